using System.Text.Json;
using System.Text.RegularExpressions;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models;

/// <summary>
/// models/tiny-gpt2-en, the bundled pretrained toy: it loads as a plain GPT-2 folder, has learnt the English of its
/// corpus, the King James Bible (a sentence in that style it never saw costs under half the 10.8 nats of a uniform
/// guess), its greedy continuation of a prompt is words, not a stutter, and the README's
/// instruction tuning walkthrough runs on it as written and learns the training answers.
/// </summary>
[Collection(CliRunner.Collection)]
public partial class TinyGpt2EnTests : IDisposable
{
    private static readonly string Root = AppContext.BaseDirectory;
    private static readonly string ModelDir = Path.Combine(Root, "models", "tiny-gpt2-en");
    private readonly string _temp = Directory.CreateTempSubdirectory("peft-tiny-gpt2-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [GeneratedRegex(@"[A-Za-z]+(?:'[a-z]+)?")]
    private static partial Regex Word();

    [Fact]
    public void The_bundled_model_is_a_gpt2_with_the_real_vocabulary_that_predicts_english_text()
    {
        using var model = AutoModel.FromPretrained(ModelDir);
        Assert.Equal("GPT2LMHeadModel", model.ArchitectureName);
        Assert.Equal(50257, model.InputEmbeddings.weight!.shape[0]);
        Assert.True(new FileInfo(Path.Combine(ModelDir, "model.safetensors")).Length < 20_000_000);
        var tokenizer = AutoTokenizer.FromFolder(ModelDir);
        // Text it never saw (not in the corpus), in the corpus's English: the loss shows what it learnt of that English.
        var ids = tokenizer.Encode("And the old man rose up in the morning, and went into the field, and said unto his servants, Bring me bread.")
            .Select(i => (long)i).ToArray();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var input = tensor(ids).unsqueeze(0);
        var logits = model.forward(new ModelInputs { InputIds = input }).Logits!;
        var loss = nn.functional.cross_entropy(logits[0, ..^1], input[0, 1..]).item<float>();
        Assert.True(loss < 5.0, $"mean loss {loss:F2} nats per token; a uniform guess is 10.8");
    }

    /// <summary>Readable, not a stutter: the greedy continuation has many different words, and none of them fills it.</summary>
    [Fact]
    public void Greedy_continuation_is_varied_words()
    {
        using var model = AutoModel.FromPretrained(ModelDir);
        var tokenizer = AutoTokenizer.FromFolder(ModelDir);
        var prompt = tokenizer.Encode("And he said unto").Select(i => (long)i).ToArray();
        var produced = PeftSharp.Generation.Generator.Generate(model, [prompt], new PeftSharp.Generation.GenerationOptions { MaxNewTokens = 30 })[0];
        var text = tokenizer.Decode(produced.Select(i => (int)i), skipSpecialTokens: true);
        var words = Word().Matches(text).Select(m => m.Value.ToLowerInvariant()).ToList();
        Assert.True(words.Count >= 15, text);
        Assert.True(words.Distinct().Count() >= 10, text);
        Assert.True(words.GroupBy(w => w).Max(g => g.Count()) <= words.Count / 3, text);
    }

    /// <summary>The README's "Instruction tuning in a few minutes", command by command, with its paths put under this test's folders.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void The_readme_walkthrough_runs_as_written_and_instruction_tuning_learns_the_answers()
    {
        var commands = WalkthroughCommands();
        Assert.Contains(commands, c => c[0] == "train");
        Assert.Contains(commands, c => c[0] == "merge");
        foreach (var command in commands)
        {
            var args = command.Select(a => a.StartsWith("models/", StringComparison.Ordinal) || a.StartsWith("data/", StringComparison.Ordinal)
                ? Path.Combine(Root, a) : a.StartsWith("runs/", StringComparison.Ordinal) ? Path.Combine(_temp, a) : a).ToArray();
            var (exit, stdout, err) = CliRunner.Run(args);
            Assert.True(exit == 0, $"peft {string.Join(' ', command)}\n{err}\n{stdout}");
            // The toy's answers are not checked for sense (after 30 examples it may answer "."): only that it answers.
            if (command[0] == "generate") Assert.False(string.IsNullOrWhiteSpace(stdout), $"peft {string.Join(' ', command)} printed nothing");
        }
        var run = Directory.GetDirectories(Path.Combine(_temp, "runs")).Single(d => File.Exists(Path.Combine(d, "metrics.jsonl")));
        var records = File.ReadLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var steps = records.Where(e => e.GetProperty("type").GetString() == "step").Select(e => e.GetProperty("loss").GetDouble()).ToList();
        var evals = records.Where(e => e.GetProperty("type").GetString() == "eval").Select(e => e.GetProperty("metrics").GetProperty("loss").GetDouble()).ToList();
        // 27 training examples: the answers are learnt (the training loss falls by well over half a nat), while the 3
        // held-out ones improve only a little (the best evaluation beats the start; the adapter kept is the best one).
        Assert.True(steps.Count >= 10 && steps[^5..].Average() < steps[..5].Average() - 0.5, $"training losses {string.Join(", ", steps.Select(x => x.ToString("F2")))}");
        Assert.True(evals.Count >= 2 && evals.Skip(1).Min() < evals[0], $"validation losses {string.Join(", ", evals)}");
    }

    /// <summary>The lines of the walkthrough's shell block that run peft, split as a shell would (double quotes only).</summary>
    private static List<string[]> WalkthroughCommands()
    {
        var readme = File.ReadAllText(FindUp("README.md"));
        int section = readme.IndexOf("## Instruction tuning in a few minutes", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no walkthrough section");
        int start = readme.IndexOf("```sh\n", section, StringComparison.Ordinal) + "```sh\n".Length;
        int end = readme.IndexOf("```", start, StringComparison.Ordinal);
        return readme[start..end].Replace("\\\n", " ").Split('\n')
            .Select(l => l.Trim()).Where(l => l.StartsWith("peft ", StringComparison.Ordinal))
            .Select(l => Regex.Matches(l[5..], "\"([^\"]*)\"|(\\S+)").Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value).ToArray())
            .ToList();
    }

    private static string FindUp(string name)
    {
        for (var dir = new DirectoryInfo(Root); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, name)) && Directory.Exists(Path.Combine(dir.FullName, "models"))) return Path.Combine(dir.FullName, name);
        throw new FileNotFoundException($"{name} above {Root}");
    }
}
