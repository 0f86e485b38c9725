using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tests.Tokenization;
using PeftSharp.Tokenization;
using PeftSharp.Training;
using PeftSharp.Tuners;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// A causal LM trained on instruction or chat data needs no --task: train, eval and generate infer it and say from
/// what, the adapter records its prompt template and generate applies it; a contradicting --task is one line.
/// </summary>
[Collection(CliRunner.Collection)]
public class TaskAndTemplateCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("peft-task-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private const string Qwen2Template = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>A tiny GPT-2 with GPT-2's real tokenizer (the full vocabulary, a 32-wide model), optionally with a chat template.</summary>
    private string Gpt2(string name, string? chatTemplate = null)
    {
        var dir = Path.Combine(_root, name);
        using (var m = TinyModels.Create(TinyModels.Gpt2(c =>
        {
            c["vocab_size"] = 50257; c["n_positions"] = 128; c["eos_token_id"] = 50256; c["bos_token_id"] = 50256;
            c["architectures"] = new JsonArray("GPT2LMHeadModel");
        }), perturb: false))
            ModelSaver.Save(m, dir);
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(TokenizerTestData.Gpt2LegacyFolder, file), Path.Combine(dir, file));
        var config = new JsonObject { ["eos_token"] = "<|endoftext|>", ["bos_token"] = "<|endoftext|>" };
        if (chatTemplate != null) config["chat_template"] = chatTemplate;
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
        return dir;
    }

    private static string Example(string file) => Path.Combine(AppContext.BaseDirectory, "data", "examples", file);

    private static long[] PromptIds(string json) =>
        JsonDocument.Parse(json).RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();

    [Fact]
    public void Instruction_data_is_inferred_recorded_evaluated_and_generated_in_its_template()
    {
        var model = Gpt2("gpt2");
        var output = Path.Combine(_root, "run");
        var (exit, stdout, err) = CliRunner.Run("train", "--model", model, "--data", Example("instructions.jsonl"), "--output", output,
            "--max-steps", "2", "--batch-size", "4", "--max-length", "64", "--validation-fraction", "0.2", "--target-modules", "c_attn");
        Assert.True(exit == 0, err + stdout);
        Assert.Contains("task: instruction (from the data's prompt/completion fields)", stdout);
        var adapter = Path.Combine(output, "adapter");
        Assert.Contains($"next:    peft generate --model {model} --adapter {adapter} --prompt", stdout);
        Assert.Equal("CAUSAL_LM", JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, PeftModel.ConfigFile)))!["task_type"]!.GetValue<string>());
        var info = TaskInfo.Read(adapter)!;
        Assert.Equal("instruction", info.Task);
        Assert.Equal(InstructionTemplate.Default.Prompt, info.Template);
        Assert.Null(info.ChatTemplate);

        (exit, stdout, err) = CliRunner.Run("eval", "--model", model, "--adapter", adapter, "--data", Example("instructions.jsonl"), "--json");
        Assert.True(exit == 0, err);
        Assert.Contains($"task: instruction (from the adapter's {TaskInfo.FileName})", err);
        Assert.Contains("\"perplexity\"", stdout);

        var tokenizer = AutoTokenizer.FromFolder(model);
        (exit, stdout, err) = CliRunner.Run("generate", "--model", model, "--adapter", adapter, "--prompt", "Name a colour.", "--max-new-tokens", "2", "--json");
        Assert.True(exit == 0, err);
        Assert.Equal(tokenizer.Encode("### Instruction:\nName a colour.\n\n### Response:\n", addSpecialTokens: false).Select(i => (long)i), PromptIds(stdout));
        (exit, stdout, err) = CliRunner.Run("generate", "--model", model, "--adapter", adapter, "--prompt", "Name a colour.", "--max-new-tokens", "2", "--json",
            "--template", "Q: {prompt}\\nA: {completion}");
        Assert.True(exit == 0, err);
        Assert.Equal(tokenizer.Encode("Q: Name a colour.\nA: ", addSpecialTokens: false).Select(i => (long)i), PromptIds(stdout));
        (exit, stdout, err) = CliRunner.Run("generate", "--model", model, "--adapter", adapter, "--prompt", "Name a colour.", "--max-new-tokens", "2", "--json", "--template", "none");
        Assert.True(exit == 0, err);
        Assert.Equal(tokenizer.Encode("Name a colour.").Select(i => (long)i), PromptIds(stdout));

        (exit, _, err) = CliRunner.Run("eval", "--model", model, "--adapter", adapter, "--data", Example("instructions.jsonl"), "--task", "classification");
        Assert.Equal(2, exit);
        Assert.Contains("task classification contradicts the adapter", err);
        Assert.Single(err.Trim().Split('\n'));
        (exit, _, err) = CliRunner.Run("predict", "--model", model, "--adapter", adapter, "--text", "hello");
        Assert.Equal(2, exit);
        Assert.Contains("not a classifier", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Chat_data_is_trained_and_prompted_in_the_model_s_own_chat_template()
    {
        var model = Gpt2("qwen-like", Qwen2Template);
        var output = Path.Combine(_root, "chat-run");
        var (exit, stdout, err) = CliRunner.Run("train", "--model", model, "--data", Example("chat.jsonl"), "--output", output,
            "--max-steps", "1", "--batch-size", "2", "--max-length", "96", "--validation-fraction", "0.3", "--target-modules", "c_attn");
        Assert.True(exit == 0, err + stdout);
        Assert.Contains("task: instruction (from the data's messages field (chat))", stdout);
        var adapter = Path.Combine(output, "adapter");
        Assert.Equal(ChatTemplate.ChatMl, TaskInfo.Read(adapter)!.ChatTemplate);

        var tokenizer = AutoTokenizer.FromFolder(model);
        (exit, stdout, err) = CliRunner.Run("generate", "--model", model, "--adapter", adapter, "--prompt", "Hi", "--max-new-tokens", "2", "--json");
        Assert.True(exit == 0, err);
        Assert.Contains("prompt template: chatml", err);
        var expected = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
        Assert.Equal(tokenizer.Encode(expected, addSpecialTokens: false).Select(i => (long)i), PromptIds(stdout));
    }

    [Fact]
    public void Chat_records_in_a_chat_template_learn_only_the_assistant_s_answers_and_end_of_turn()
    {
        var tokenizer = AutoTokenizer.FromFolder(TokenizerTestData.Gpt2LegacyFolder);
        var chat = ChatTemplate.Recognise(Qwen2Template)!;
        var task = new InstructionTask(tokenizer) { Chat = chat, AddEos = false };
        var records = DataFileReader.ReadAll(Example("chat.jsonl"), DataIssueLog.Strict());
        var example = task.Tokenize([records[1]], DataIssueLog.Strict()).Single();
        var learned = tokenizer.Decode(example.InputIds.Where((_, i) => example.Labels![i] != TokenizedExample.IgnoreIndex));
        Assert.Equal("Of course. What would you like to convert?<|im_end|>3 feet is about 91.4 cm.<|im_end|>", learned);
        Assert.StartsWith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!", tokenizer.Decode(example.InputIds));
    }
}
