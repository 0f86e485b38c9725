using System.Globalization;
using PeftSharp.Tests.IO;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;

namespace PeftSharp.Tests.Training;

public class TrainConfigFileTests
{
    private const string Yaml = """
        # a comment
        model: models/gpt2
        task: classification
        train_data: ../data/train.jsonl
        validation_data: null
        text_field: sentence
        learning_rate: 3e-4
        lora_r: 16
        lora_alpha: 32
        use_dora: true
        use_rslora: True
        target_modules: [q_proj, v_proj]
        modules_to_save: classifier
        max_steps: 100
        lora_plus_ratio: 16
        seed: 12345678901
        init_lora_weights: false
        skip_malformed: false
        output: /tmp/run
        """;

    private const string Json = """
        {
          // comments are allowed
          "model": "models/gpt2",
          "task": "classification",
          "train_data": "../data/train.jsonl",
          "validation_data": null,
          "text_field": "sentence",
          "learning_rate": 3e-4,
          "lora_r": 16,
          "lora_alpha": 32,
          "use_dora": true,
          "use_rslora": true,
          "target_modules": ["q_proj", "v_proj"],
          "modules_to_save": "classifier",
          "max_steps": 100,
          "lora_plus_ratio": 16,
          "seed": 12345678901,
          "init_lora_weights": false,
          "skip_malformed": false,
          "output": "/tmp/run",
        }
        """;

    private static void AssertExample(TrainingOptions o, string folder)
    {
        Assert.Equal(Path.Combine(folder, "models", "gpt2"), o.Model);
        Assert.Equal(Path.GetFullPath(Path.Combine(folder, "..", "data", "train.jsonl")), o.TrainData);
        Assert.Null(o.ValidationData);
        Assert.Equal("sentence", o.TextField);
        Assert.Equal(3e-4, o.LearningRate);
        Assert.Equal(16, o.Rank);
        Assert.Equal(32.0, o.Alpha);
        Assert.True(LoraOptions.UseDora.Get(o.MethodOptions));
        Assert.True(LoraOptions.UseRsLora.Get(o.MethodOptions));
        Assert.Equal(["q_proj", "v_proj"], o.TargetModules!);
        Assert.Equal(["classifier"], o.ModulesToSave!);
        Assert.Equal(100, o.MaxSteps);
        Assert.Equal(16.0, o.LoraPlusRatio);
        Assert.Equal(12345678901L, o.Seed);
        Assert.Equal("false", LoraOptions.InitLoraWeights.Get(o.MethodOptions));
        Assert.False(o.SkipMalformed);
        Assert.Equal("/tmp/run", o.Output);
        // untouched keys keep their defaults
        Assert.Equal(new TrainingOptions().BatchSize, o.BatchSize);
        Assert.Equal("adamw", o.Optimizer);
    }

    [Theory]
    [InlineData("train.yaml")]
    [InlineData("train.yml")]
    [InlineData("train.json")]
    public void Reads_every_kind_of_value_from_yaml_and_json(string name)
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "configs");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, name.EndsWith(".json") ? Json : Yaml);
        AssertExample(TrainConfigFile.Load(path), folder);
    }

    [Fact]
    public void Relative_paths_are_relative_to_the_config_file_not_the_current_folder()
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "a", "b");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "c.yaml");
        File.WriteAllText(path, "model: m\ntrain_data: ./d/t.csv\nvalidation_data: ../v.csv\nfrom_adapter: adapters/x\noutput: ../../runs/1\ntext_field: relative/not/a/path\n");
        var o = TrainConfigFile.Load(path);
        Assert.Equal(Path.Combine(folder, "m"), o.Model);
        Assert.Equal(Path.Combine(folder, "d", "t.csv"), o.TrainData);
        Assert.Equal(Path.Combine(dir.Path, "a", "v.csv"), o.ValidationData);
        Assert.Equal(Path.Combine(folder, "adapters", "x"), o.FromAdapter);
        Assert.Equal(Path.Combine(dir.Path, "runs", "1"), o.Output);
        Assert.Equal("relative/not/a/path", o.TextField);
    }

    [Fact]
    public void An_empty_file_gives_the_defaults()
    {
        Assert.Equal(TrainConfigFile.ToYaml(new TrainingOptions()), TrainConfigFile.ToYaml(TrainConfigFile.ParseYaml("", "x.yaml")));
        Assert.Equal(TrainConfigFile.ToYaml(new TrainingOptions()), TrainConfigFile.ToYaml(TrainConfigFile.ParseYaml("# nothing\n", "x.yaml")));
    }

    [Theory]
    [InlineData("model: m\nlerning_rate: 0.1\n", "unknown key \"lerning_rate\"; did you mean \"learning_rate\"?", "line 2")]
    [InlineData("learning-rate: 0.1\n", "did you mean \"learning_rate\"?", "line 1")]
    [InlineData("loraR: 4\n", "did you mean \"lora_r\"?", "line 1")]
    [InlineData("use_rs_lora: true\n", "did you mean \"use_rslora\"?", "line 1")]
    [InlineData("target_module: q\n", "did you mean \"target_modules\"?", "line 1")]
    [InlineData("banana_split: 3\n", "valid keys: model, from_adapter, task", "line 1")]
    public void Unknown_keys_name_the_key_the_file_and_the_nearest_valid_key(string yaml, string expected, string line)
    {
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.ParseYaml(yaml, "my.yaml"));
        Assert.Contains(expected, e.Message);
        Assert.Contains("my.yaml", e.Message);
        Assert.Contains(line, e.Message);
    }

    [Fact]
    public void Unknown_json_keys_are_named_too()
    {
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.ParseJson("{\"batch_sise\": 4}", "my.json"));
        Assert.Equal("my.json: unknown key \"batch_sise\"; did you mean \"batch_size\"?", e.Message);
    }

    [Theory]
    [InlineData("lora_r: eight", "\"lora_r\" must be an integer, got eight")]
    [InlineData("lora_r: 8.5", "\"lora_r\" must be an integer, got 8.5")]
    [InlineData("lora_r: 99999999999", "\"lora_r\" must be an integer")]
    [InlineData("lora_r: \"8\"", "\"lora_r\" must be an integer, got \"8\"")]
    [InlineData("lora_r: null", "\"lora_r\" must be an integer, got null")]
    [InlineData("lora_r: [1]", "\"lora_r\" must be an integer, got a list")]
    [InlineData("learning_rate: fast", "\"learning_rate\" must be a number, got fast")]
    [InlineData("learning_rate: .inf", "\"learning_rate\" must be a number")]
    [InlineData("max_steps: lots", "\"max_steps\" must be an integer or null, got lots")]
    [InlineData("use_dora: maybe", "\"use_dora\" must be true or false, got maybe")]
    [InlineData("use_dora: 1", "\"use_dora\" must be true or false, got 1")]
    [InlineData("model: {a: b}", "\"model\" must be a string, got a mapping")]
    [InlineData("model: [a, b]", "\"model\" must be a string, got a list")]
    [InlineData("model:", "\"model\" must be a string, got null")]
    [InlineData("target_modules: {a: b}", "\"target_modules\" must be a list of strings (or one string) or null, got a mapping")]
    [InlineData("target_modules: [q, [v]]", "\"target_modules\"[1] must be a string, got a list")]
    public void Wrong_types_name_the_key_the_file_and_the_expected_type(string yaml, string expected)
    {
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.ParseYaml(yaml, "t.yaml"));
        Assert.StartsWith("t.yaml, line 1: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("{\"lora_r\": \"8\"}", "t.json: \"lora_r\" must be an integer, got \"8\"")]
    [InlineData("{\"lora_r\": 8.5}", "t.json: \"lora_r\" must be an integer, got 8.5")]
    [InlineData("{\"use_dora\": \"true\"}", "t.json: \"use_dora\" must be true or false, got \"true\"")]
    [InlineData("{\"learning_rate\": true}", "t.json: \"learning_rate\" must be a number, got true")]
    [InlineData("{\"target_modules\": [\"q\", 3, null]}", "t.json: \"target_modules\"[2] must be a string, got null")]
    [InlineData("{\"model\": \"a\", \"model\": \"b\"}", "t.json: \"model\" is given twice")]
    [InlineData("[1, 2]", "t.json: expected a JSON object")]
    [InlineData("{\"model\": ", "t.json: invalid JSON")]
    public void Json_type_errors(string json, string expected)
    {
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.ParseJson(json, "t.json"));
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void Json_integral_numbers_and_numbers_for_strings_are_accepted()
    {
        var o = TrainConfigFile.ParseJson("{\"lora_r\": 8.0, \"text_field\": 12, \"learning_rate\": 1}", "t.json");
        Assert.Equal(8, o.Rank);
        Assert.Equal("12", o.TextField);
        Assert.Equal(1.0, o.LearningRate);
    }

    [Fact]
    public void Yaml_quoting_decides_between_string_and_null()
    {
        var o = TrainConfigFile.ParseYaml("text_field: \"null\"\nlabel_field: ~\nprompt_field: 'true'\ntarget_modules: []\nmodules_to_save: null\n", "t.yaml");
        Assert.Equal("null", o.TextField);
        Assert.Null(o.LabelField);
        Assert.Equal("true", o.PromptField);
        Assert.Empty(o.TargetModules!);
        Assert.Null(o.ModulesToSave);
    }

    [Theory]
    [InlineData("model: [unclosed\n", "invalid YAML")]
    [InlineData("- a\n- b\n", "expected a mapping")]
    [InlineData("model: a\n---\nmodel: b\n", "expected one YAML document")]
    [InlineData("model: a\nmodel: b\n", "t.yaml")]
    public void Malformed_yaml_is_a_user_error(string yaml, string expected)
    {
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.ParseYaml(yaml, "t.yaml"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Load_checks_existence_and_extension()
    {
        using var dir = new TempDir();
        Assert.Contains("not found", Assert.Throws<PeftException>(() => TrainConfigFile.Load(dir.File("none.yaml"))).Message);
        File.WriteAllText(dir.File("c.toml"), "");
        Assert.Contains("must be .yaml, .yml or .json", Assert.Throws<PeftException>(() => TrainConfigFile.Load(dir.File("c.toml"))).Message);
    }

    [Fact]
    public void Overrides_map_kebab_case_flags_onto_options()
    {
        var baseOptions = new TrainingOptions { Model = "m", ValidationData = "v.csv", TargetModules = ["x"] };
        var o = TrainConfigFile.ApplyOverrides(baseOptions, new Dictionary<string, string>
        {
            ["learning-rate"] = "1e-3",
            ["--lora-r"] = "4",
            ["target-modules"] = "q_proj, v_proj,",
            ["max-steps"] = "50",
            ["use-dora"] = "",
            ["skip-malformed"] = "false",
            ["validation-data"] = "",
            ["seed"] = "-7",
            ["text-field"] = "review",
            ["use-rslora"] = "TRUE",
        });
        Assert.Equal(1e-3, o.LearningRate);
        Assert.Equal(4, o.Rank);
        Assert.Equal(["q_proj", "v_proj"], o.TargetModules!);
        Assert.Equal(50, o.MaxSteps);
        Assert.True(LoraOptions.UseDora.Get(o.MethodOptions));
        Assert.True(LoraOptions.UseRsLora.Get(o.MethodOptions));
        Assert.False(o.SkipMalformed);
        Assert.Null(o.ValidationData);
        Assert.Equal(-7L, o.Seed);
        Assert.Equal("review", o.TextField);
        Assert.Equal("m", o.Model);
        Assert.Equal(["x"], baseOptions.TargetModules!); // the base is not changed
        Assert.Equal("v.csv", baseOptions.ValidationData);
    }

    [Fact]
    public void Overrides_parse_numbers_in_the_invariant_culture()
    {
        var culture = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
            var o = TrainConfigFile.ApplyOverrides(new TrainingOptions(), new Dictionary<string, string> { ["lora-dropout"] = "0.25" });
            Assert.Equal(0.25, o.Dropout);
            var e = Assert.Throws<PeftException>(() => TrainConfigFile.ApplyOverrides(new TrainingOptions(), new Dictionary<string, string> { ["lora-dropout"] = "0,25" }));
            Assert.Equal("option --lora-dropout must be a number, got 0,25", e.Message);
            Assert.Contains("learning_rate: 0.0002", TrainConfigFile.ToYaml(new TrainingOptions()));
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }

    [Theory]
    [InlineData("lerning-rate", "unknown option --lerning-rate; did you mean --learning-rate?")]
    [InlineData("--batch_size", "unknown option --batch_size; did you mean --batch-size?")]
    [InlineData("zzzzzzzzzz", "unknown option --zzzzzzzzzz")]
    public void Unknown_flags_suggest_the_nearest(string flag, string expected)
    {
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.ApplyOverrides(new TrainingOptions(), new Dictionary<string, string> { [flag] = "1" }));
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void Flag_type_errors_name_the_flag()
    {
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.ApplyOverrides(new TrainingOptions(), new Dictionary<string, string> { ["epochs"] = "" }));
        Assert.Equal("option --epochs must be an integer, got ", e.Message);
        e = Assert.Throws<PeftException>(() => TrainConfigFile.ApplyOverrides(new TrainingOptions(), new Dictionary<string, string> { ["resume"] = "yes" }));
        Assert.Equal("option --resume must be true or false, got yes", e.Message);
    }

    private static readonly TrainingOptions Valid = new() { Model = "m", TrainData = "t.jsonl", Output = "runs/x" };

    [Fact]
    public void Defaults_with_model_and_data_are_valid()
    {
        Assert.Same(Valid, TrainConfigFile.Validate(Valid));
        TrainConfigFile.Validate(Valid with { Epochs = 0, MaxSteps = 10 });
        TrainConfigFile.Validate(TrainingSchema.Set(Valid with { Device = "cuda:1", Task = "causal-lm" }, LoraOptions.InitLoraWeights, "pissa_niter_4"));
        TrainConfigFile.Validate(Valid with { Method = "full", Task = "causal-lm" });
    }

    public static TheoryData<string, string> Invalid => new()
    {
        { "learning_rate=0", "learning_rate must be greater than 0, got 0" },
        { "batch_size=0", "batch_size must be at least 1, got 0" },
        { "epochs=0", "epochs must be at least 1 unless max_steps is set, got 0" },
        { "max_steps=0", "max_steps must be at least 1" },
        { "warmup_ratio=1", "warmup_ratio must be in [0, 1), got 1" },
        { "lora_dropout=1", "dropout must be in [0, 1), got 1" },
        { "dropout=-0.1", "dropout must be in [0, 1), got -0.1" },
        { "lora_r=0", "rank must be at least 1, got 0" },
        { "task=clasification", "task \"clasification\" is not one of classification, causal-lm, instruction, seq2seq" },
        { "optimizer=adam", "optimizer \"adam\" is not one of adamw, sgd" },
        { "scheduler=step", "scheduler \"step\" is not one of constant, linear, cosine" },
        { "pooling=max", "pooling \"max\" is not one of cls, mean" },
        { "method=prefix", "method \"prefix\" is not one of lora, ia3, loha, lokr, vera, adalora, prompt-tuning, prefix-tuning, p-tuning, bottleneck, ln-tuning, bitfit, full, head" },
        { "metric_for_best=bleu", "metric_for_best \"bleu\" is not one of auto, loss, accuracy, f1, perplexity" },
        { "init_lora_weights=loftq", "init_lora_weights \"loftq\" is not supported" },
        { "device=gpu", "device \"gpu\" is not a device name" },
        { "beta2=1", "beta2 must be in [0, 1), got 1" },
        { "gradient_accumulation=0", "gradient_accumulation must be at least 1, got 0" },
        { "log_every=0", "log_every must be at least 1, got 0" },
        { "validation_fraction=1", "validation_fraction must be in [0, 1), got 1" },
        { "lora_plus_ratio=0", "lora_plus_ratio must be greater than 0" },
        { "model=", "model is required" },
        { "train_data=", "train_data is required" },
        { "target_modules= ", "target_modules must not contain empty names" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_names_the_option_and_the_range(string assignment, string expected)
    {
        var (key, value) = (assignment.Split('=')[0], assignment.Split('=')[1]);
        var options = key == "target_modules"
            ? Valid with { TargetModules = [" "] }
            : TrainConfigFile.ApplyOverrides(Valid, new Dictionary<string, string> { [key.Replace('_', '-')] = value });
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.Validate(options));
        Assert.StartsWith("invalid training options: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Validate_reports_every_problem_at_once_on_one_line()
    {
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.Validate(Valid with { LearningRate = -1, BatchSize = 0, Optimizer = "x" }));
        Assert.Contains("learning_rate", e.Message);
        Assert.Contains("batch_size", e.Message);
        Assert.Contains("optimizer", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Validate_checks_combinations()
    {
        Assert.Contains("from_adapter", Assert.Throws<PeftException>(() => TrainConfigFile.Validate(Valid with { Method = "full", FromAdapter = "a" })).Message);
        Assert.Contains("resume needs output", Assert.Throws<PeftException>(() => TrainConfigFile.Validate(Valid with { Resume = true, Output = "" })).Message);
    }

    [Fact]
    public void Keys_are_snake_case_property_names()
    {
        Assert.Contains("learning_rate", TrainConfigFile.Keys);
        Assert.Contains("rank", TrainConfigFile.Keys);
        Assert.DoesNotContain("lora_r", TrainConfigFile.Keys); // an alias, accepted but not a key of its own
        Assert.Contains("beta1", TrainConfigFile.Keys);
        Assert.Contains("use_rslora", TrainConfigFile.Keys);
        Assert.Contains("modules_to_save", TrainConfigFile.Keys);
        // every property but the bag of method options is a key, and so is every method option of every registered method
        Assert.Equal(typeof(TrainingOptions).GetProperties().Length - 1 + TunerRegistry.All.SelectMany(t => t.Description.Options).Distinct().Count(), TrainConfigFile.Keys.Count);
        Assert.All(TrainConfigFile.Keys, k => Assert.Matches("^[a-z][a-z0-9_]*$", k));
    }

    [Fact]
    public void Written_config_yaml_reads_back_from_the_run_folder()
    {
        using var dir = new TempDir();
        var options = Valid with
        {
            Model = "/models/gpt2", TrainData = "/data/t.jsonl", Output = dir.Path, TargetModules = ["c_attn"], MaxSteps = 7,
            TextField = "true", LabelField = "", LearningRate = 1e-8,
        };
        options = TrainingSchema.Set(options, LoraOptions.InitLoraWeights, "false");
        var path = TrainConfigFile.WriteRunConfig(dir.Path, options);
        Assert.Equal(Path.Combine(dir.Path, "config.yaml"), path);
        var text = File.ReadAllText(path);
        Assert.StartsWith("# ", text);
        Assert.Contains("learning_rate: 1E-08\n", text);
        Assert.Contains("target_modules: [\"c_attn\"]\n", text);
        Assert.Contains("validation_data: null\n", text);
        OptionsAssert.Same(options, TrainConfigFile.Load(path));
    }
}
