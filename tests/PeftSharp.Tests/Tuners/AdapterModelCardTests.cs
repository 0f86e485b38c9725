using PeftSharp.Tests.IO;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using YamlDotNet.RepresentationModel;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// The README.md beside a saved adapter is PEFT's model card: front matter the Hugging Face Hub reads (library_name
/// peft, base_model, the base_model:adapter tag, the method and pipeline tags), a card the user edited keeps its text.
/// </summary>
public class AdapterModelCardTests
{
    private static PeftModel Lora(string? baseModel, string taskType = "CAUSAL_LM")
    {
        var model = TinyModels.Create(TinyModels.Llama());
        var config = TunerRegistry.Named("lora")!.CreateConfig(new MethodSettings { Rank = 2, Alpha = 4, TaskType = taskType, BaseModel = baseModel });
        return PeftModel.Create(model, config);
    }

    private static (YamlMappingNode Front, string Text) Read(string dir)
    {
        var text = File.ReadAllText(Path.Combine(dir, AdapterModelCard.FileName));
        Assert.StartsWith("---\n", text);
        int end = text.IndexOf("\n---\n", 4, StringComparison.Ordinal);
        Assert.True(end > 0, "front matter is not closed by ---");
        var yaml = new YamlStream();
        yaml.Load(new StringReader(text[4..end]));
        return ((YamlMappingNode)yaml.Documents[0].RootNode, text[(end + 5)..].TrimStart('\n'));
    }

    private static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? ((YamlScalarNode)v).Value : null;

    private static List<string> Tags(YamlMappingNode map) =>
        ((YamlSequenceNode)map.Children[new YamlScalarNode("tags")]).Children.Select(t => ((YamlScalarNode)t).Value!).ToList();

    [Fact]
    public void A_hub_base_model_is_named_in_the_front_matter_as_the_hub_expects()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        Lora("meta-llama/Llama-3.2-1B").Save(dir.Path);
        var (front, text) = Read(dir.Path);
        Assert.Equal("peft", Scalar(front, "library_name"));
        Assert.Equal("meta-llama/Llama-3.2-1B", Scalar(front, "base_model"));
        Assert.Equal("text-generation", Scalar(front, "pipeline_tag"));
        Assert.Contains("base_model:adapter:meta-llama/Llama-3.2-1B", Tags(front));
        Assert.Contains("lora", Tags(front));
        Assert.Contains("PeftModel.from_pretrained", text);
        Assert.Contains("- PEFT 0.18.1", text);
    }

    [Fact]
    public void A_local_folder_is_not_written_as_base_model_and_the_card_says_how_to_set_it()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var local = Directory.CreateTempSubdirectory("peft-base-").FullName;
        try
        {
            Lora(local, "SEQ_CLS").Save(dir.Path);
            var (front, text) = Read(dir.Path);
            Assert.Null(Scalar(front, "base_model"));
            Assert.DoesNotContain(Tags(front), t => t.StartsWith("base_model:", StringComparison.Ordinal));
            Assert.Equal("text-classification", Scalar(front, "pipeline_tag"));
            Assert.Contains("--base-model-name-or-path", text);
            Assert.Contains(local, text);
        }
        finally { Directory.Delete(local, recursive: true); }
    }

    [Fact]
    public void A_card_the_user_edited_keeps_its_text_and_keys_and_gains_peft_s()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, AdapterModelCard.FileName), "---\nlicense: mit\ntags:\n- my-tag\n---\n\n# My adapter\n\nIt answers questions.\n");
        Lora("org/base").Save(dir.Path);
        var (front, text) = Read(dir.Path);
        Assert.Equal("mit", Scalar(front, "license"));
        Assert.Equal("peft", Scalar(front, "library_name"));
        Assert.Contains("my-tag", Tags(front));
        Assert.Contains("lora", Tags(front));
        Assert.Equal("# My adapter\n\nIt answers questions.\n", text);
    }

    [Fact]
    public void Several_adapters_get_one_card_at_the_root_that_names_their_subfolders()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var peft = Lora("org/base");
        peft.AddAdapter("second", TunerRegistry.Named("ia3")!.CreateConfig(new MethodSettings { TaskType = "CAUSAL_LM", BaseModel = "org/base" }));
        peft.Save(dir.Path);
        var (front, text) = Read(dir.Path);
        Assert.Contains("ia3", Tags(front));
        Assert.Contains("subfolder `second`", text);
        Assert.Contains("subfolder=\"second\"", text);
        Assert.False(File.Exists(Path.Combine(dir.Path, "second", AdapterModelCard.FileName)));
    }

    [Theory]
    [InlineData("org/name", true)]
    [InlineData("sentence-transformers/all-MiniLM-L6-v2", true)]
    [InlineData("/models/llama", false)]
    [InlineData("./models/llama", false)]
    [InlineData("models/llama/7b", false)]
    [InlineData("llama", false)]
    [InlineData("../x", false)]
    public void Hub_ids_are_told_from_paths(string name, bool hub) => Assert.Equal(hub, AdapterModelCard.IsHubId(name));
}
