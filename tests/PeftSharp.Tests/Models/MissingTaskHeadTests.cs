using System.Text.Json.Nodes;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.IO;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models;

/// <summary>
/// A backbone checkpoint under a task config (bert-base-uncased with a BertForSequenceClassification config) loads as in
/// transformers: the head is initialised (seeded, without touching the global generator) and named in a warning, an adapter
/// that saves the head fills it, one that does not is warned about; any other missing tensor is still refused.
/// </summary>
[Collection(SerialRandomness.Name)]
public class MissingTaskHeadTests
{
    private static readonly string BertClassifier = TinyModels.Bert(c =>
    {
        c["architectures"] = new JsonArray("BertForSequenceClassification");
        c["num_labels"] = 3;
    });

    private static readonly long[,] Ids = { { 1, 2, 3, 4, 5, 6 }, { 7, 8, 9, 10, 11, 12 } };

    /// <summary>A model folder with the model's config and every tensor whose name <paramref name="keep"/> accepts.</summary>
    internal static void WriteFolder(PretrainedModel model, string json, string dir, Func<string, bool> keep)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), json);
        using var scope = NewDisposeScope();
        var tensors = model.named_parameters().Where(p => keep(p.name) && !model.TiedParameters.ContainsKey(p.name))
            .Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach().contiguous()));
        SafetensorsWriter.Write(Path.Combine(dir, CheckpointReader.SingleFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    private static bool NotIn(string name, string module) => !name.StartsWith(module + ".", StringComparison.Ordinal);

    [Fact]
    public void A_bert_checkpoint_without_its_classifier_loads_with_a_seeded_head_and_a_warning()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using (var trained = TinyModels.Create(BertClassifier)) WriteFolder(trained, BertClassifier, dir.Path, n => NotIn(n, "classifier"));

        var warnings = new List<string>();
        using var first = AutoModel.FromPretrained(dir.Path, warn: warnings.Add);
        var line = Assert.Single(warnings);
        Assert.Equal($"{dir.Path}: classifier.weight, classifier.bias are not in the checkpoint; initialised randomly (seed 0): " +
            "train them, or load an adapter that saves them in modules_to_save", line);
        Assert.Equal(["classifier.weight", "classifier.bias"], first.FreshParameters);

        var parameters = first.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(0f, parameters["classifier.bias"].abs().max().item<float>());
        var weight = parameters["classifier.weight"];
        Assert.Equal([3L, 32L], weight.shape);
        Assert.InRange(weight.std().item<float>(), 0.012f, 0.028f); // initializer_range 0.02 (the default)
        Assert.InRange(weight.mean().item<float>(), -0.008f, 0.008f);

        using var second = AutoModel.FromPretrained(dir.Path);
        var again = second.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(weight.data<float>().ToArray(), again["classifier.weight"].data<float>().ToArray());
    }

    [Fact]
    public void Initialising_the_head_leaves_the_global_random_stream_where_it_was()
    {
        using var scope = NewDisposeScope();
        using var complete = new TempDir();
        using var headless = new TempDir();
        using (var trained = TinyModels.Create(BertClassifier))
        {
            WriteFolder(trained, BertClassifier, complete.Path, _ => true);
            WriteFolder(trained, BertClassifier, headless.Path, n => NotIn(n, "classifier"));
        }

        // Building the modules draws from the global generator either way; initialising the missing head must add nothing.
        float[] NextAfterLoading(string dir)
        {
            manual_seed(11);
            using var model = AutoModel.FromPretrained(dir);
            Assert.Equal(dir == headless.Path, model.FreshParameters.Count > 0);
            return rand(16).data<float>().ToArray();
        }
        Assert.Equal(NextAfterLoading(complete.Path), NextAfterLoading(headless.Path));
    }

    [Fact]
    public void The_initialisation_follows_the_configs_initializer_range()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var json = TinyModels.Bert(c =>
        {
            c["architectures"] = new JsonArray("BertForSequenceClassification");
            c["num_labels"] = 40;
            c["initializer_range"] = 0.5;
        });
        using (var trained = TinyModels.Create(json)) WriteFolder(trained, json, dir.Path, n => NotIn(n, "classifier"));
        using var model = AutoModel.FromPretrained(dir.Path);
        var weight = model.named_parameters().Single(p => p.name == "classifier.weight").parameter;
        Assert.InRange(weight.std().item<float>(), 0.45f, 0.55f);

        var bad = JsonNode.Parse(json)!.AsObject();
        bad["initializer_range"] = -1;
        File.WriteAllText(dir.File("config.json"), bad.ToJsonString());
        var e = Assert.Throws<PeftException>(() => AutoModel.FromPretrained(dir.Path));
        Assert.Contains("\"initializer_range\" must be a positive number, got -1", e.Message);
    }

    [Fact]
    public void A_seq_cls_adapter_that_saves_the_head_gives_the_outputs_of_the_model_it_was_trained_on()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var baseDir = Path.Combine(dir.Path, "base");
        var adapterDir = Path.Combine(dir.Path, "adapter");
        Tensor expected;
        using (var trained = TinyModels.Create(BertClassifier))
        {
            WriteFolder(trained, BertClassifier, baseDir, n => NotIn(n, "classifier"));
            var peft = PeftModel.Create(trained, TunerRegistry.Named("lora")!.CreateConfig(new MethodSettings { Rank = 4, Alpha = 8, TaskType = "SEQ_CLS" }));
            Assert.Contains("classifier", peft.Configs[PeftModel.DefaultAdapter].ModulesToSave!);
            Perturb(peft);
            using (no_grad()) expected = peft.Forward(new ModelInputs { InputIds = TinyModels.Ids(Ids) }).Logits!.clone();
            peft.Save(adapterDir);
        }

        using var model = AutoModel.FromPretrained(baseDir);
        Assert.NotEmpty(model.FreshParameters);
        var loaded = PeftModel.Load(model, adapterDir);
        Assert.DoesNotContain(loaded.Warnings, w => w.Contains("untrained head"));
        using (no_grad())
        {
            var actual = loaded.Forward(new ModelInputs { InputIds = TinyModels.Ids(Ids) }).Logits!;
            Assert.True(actual.allclose(expected, rtol: 0, atol: 1e-6), $"max difference {actual.sub(expected).abs().max().item<float>()}");
        }
        // Merged, the adapter's trained head stands in the model: it is no longer a randomly initialised one.
        loaded.MergeAndUnload();
        Assert.Empty(model.FreshParameters);
    }

    [Fact]
    public void An_adapter_that_does_not_save_the_fresh_head_is_warned_about()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var baseDir = Path.Combine(dir.Path, "base");
        var adapterDir = Path.Combine(dir.Path, "adapter");
        using (var trained = TinyModels.Create(BertClassifier))
        {
            WriteFolder(trained, BertClassifier, baseDir, n => NotIn(n, "classifier"));
            var peft = PeftModel.Create(trained, TunerRegistry.Named("lora")!.CreateConfig(new MethodSettings { Rank = 4, Alpha = 8, TaskType = "FEATURE_EXTRACTION" }));
            peft.Save(adapterDir);
        }

        using var model = AutoModel.FromPretrained(baseDir);
        var loaded = PeftModel.Load(model, adapterDir);
        var warning = Assert.Single(loaded.Warnings);
        Assert.Equal("adapter \"default\": classifier.weight, classifier.bias of the base model were initialised randomly (not in its checkpoint) " +
            "and the adapter does not save them (modules_to_save): predictions come from an untrained head", warning);

        // The same adapter on a complete checkpoint has nothing to warn about.
        using var complete = TinyModels.Create(BertClassifier);
        Assert.Empty(PeftModel.Load(complete, adapterDir).Warnings);
    }

    public static TheoryData<string> UntiedDecoders() => new() { "llama", "gpt2" };

    [Theory]
    [MemberData(nameof(UntiedDecoders))]
    public void A_decoder_checkpoint_without_its_untied_lm_head_loads_and_an_adapter_that_saves_it_fills_it(string architecture)
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var json = architecture == "llama" ? TinyModels.Llama() : TinyModels.Gpt2(c => c["tie_word_embeddings"] = false);
        var baseDir = Path.Combine(dir.Path, "base");
        var adapterDir = Path.Combine(dir.Path, "adapter");
        Tensor expected;
        using (var trained = TinyModels.Create(json))
        {
            Assert.Empty(trained.TiedParameters);
            WriteFolder(trained, json, baseDir, n => NotIn(n, "lm_head"));
            var settings = new MethodSettings { Rank = 4, Alpha = 8, TaskType = "CAUSAL_LM", ModulesToSave = ["lm_head"] };
            var peft = PeftModel.Create(trained, TunerRegistry.Named("lora")!.CreateConfig(settings));
            Perturb(peft);
            using (no_grad()) expected = peft.Forward(new ModelInputs { InputIds = TinyModels.Ids(Ids) }).Logits!.clone();
            peft.Save(adapterDir);
        }

        var warnings = new List<string>();
        using var model = AutoModel.FromPretrained(baseDir, warn: warnings.Add);
        Assert.Equal($"{baseDir}: lm_head.weight is not in the checkpoint; initialised randomly (seed 0): " +
            "train it, or load an adapter that saves it in modules_to_save", Assert.Single(warnings));
        Assert.Equal(["lm_head.weight"], model.FreshParameters);
        var loaded = PeftModel.Load(model, adapterDir);
        Assert.Empty(loaded.Warnings);
        using (no_grad())
        {
            var actual = loaded.Forward(new ModelInputs { InputIds = TinyModels.Ids(Ids) }).Logits!;
            Assert.True(actual.allclose(expected, rtol: 0, atol: 1e-6), $"max difference {actual.sub(expected).abs().max().item<float>()}");
        }
    }

    [Fact]
    public void A_checkpoint_missing_a_tensor_outside_the_head_is_refused_as_before()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        const string query = "bert.encoder.layer.0.attention.self.query.weight";
        using (var trained = TinyModels.Create(BertClassifier)) WriteFolder(trained, BertClassifier, dir.Path, n => n != query);
        var warnings = new List<string>();
        var e = Assert.Throws<PeftException>(() => AutoModel.FromPretrained(dir.Path, warn: warnings.Add));
        Assert.Equal($"{dir.Path}: checkpoint does not fit BertForSequenceClassification: missing 1 tensor(s): {query}", e.Message);

        // Without the head as well, the error still names only what may not be missing, and nothing is warned.
        using var other = new TempDir();
        using (var trained = TinyModels.Create(BertClassifier)) WriteFolder(trained, BertClassifier, other.Path, n => n != query && NotIn(n, "classifier"));
        e = Assert.Throws<PeftException>(() => AutoModel.FromPretrained(other.Path, warn: warnings.Add));
        Assert.Equal($"{other.Path}: checkpoint does not fit BertForSequenceClassification: missing 1 tensor(s): {query}", e.Message);
        Assert.Empty(warnings);
    }

    [Fact]
    public void A_tied_lm_head_and_a_backbone_model_have_no_task_head_to_miss()
    {
        using var scope = NewDisposeScope();
        using var gpt2 = TinyModels.Create(TinyModels.Gpt2());
        Assert.Empty(gpt2.TaskHeadModules);
        using var bert = TinyModels.Create(TinyModels.Bert());
        Assert.Empty(bert.TaskHeadModules);

        using var dir = new TempDir();
        var json = TinyModels.Llama();
        using (var trained = TinyModels.Create(json)) WriteFolder(trained, json, dir.Path, n => n != "model.norm.weight");
        var e = Assert.Throws<PeftException>(() => AutoModel.FromPretrained(dir.Path));
        Assert.Contains("missing 1 tensor(s): model.norm.weight", e.Message);
    }

    [Fact]
    public void For_sequence_classification_warns_when_the_promised_head_is_absent_and_keeps_its_own_new_head_quiet()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using (var trained = TinyModels.Create(BertClassifier)) WriteFolder(trained, BertClassifier, dir.Path, n => NotIn(n, "classifier"));
        var warnings = new List<string>();
        using (var promised = AutoModel.ForSequenceClassification(dir.Path, 3, warn: warnings.Add))
            Assert.Equal(["classifier.weight", "classifier.bias"], promised.FreshParameters);
        Assert.Contains("classifier.weight, classifier.bias are not in the checkpoint", Assert.Single(warnings));

        // Asked for another number of labels, the head is new by request: logged as before, not warned.
        warnings.Clear();
        var logged = new List<string>();
        using (var relabelled = AutoModel.ForSequenceClassification(dir.Path, 5, log: logged.Add, warn: warnings.Add))
            Assert.Equal(["classifier.weight", "classifier.bias"], relabelled.FreshParameters);
        Assert.Empty(warnings);
        Assert.Contains(logged, l => l.Contains("new classification head with 5 labels"));
    }

    /// <summary>Moves every adapter tensor (LoRA's B starts at zero) so that the adapter changes the outputs.</summary>
    private static void Perturb(PeftModel peft)
    {
        using (no_grad())
            foreach (var (_, p) in peft.TrainableNamedParameters())
                p.add_(randn_like(p).mul_(0.1));
    }
}
