using System.Text.Json;
using PeftSharp.Tokenization;

namespace PeftSharp.Tests.Tokenization;

/// <summary>
/// Real chat_template strings of public models (TestData/chat-templates/templates.json) are recognised as their family
/// and rendered to the text transformers' apply_chat_template gives; other families are refused, never guessed.
/// </summary>
public class ChatTemplateTests
{
    private static JsonElement Data()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates", "templates.json")));
        return doc.RootElement.Clone();
    }

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Data().GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("model").GetString()!);
        return data;
    }

    private static List<ChatMessage> Messages(JsonElement c) =>
        c.GetProperty("messages").EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_real_template_renders_as_transformers_does(string model)
    {
        var c = Data().GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("model").GetString() == model);
        var template = ChatTemplate.Recognise(c.GetProperty("template").GetString()!, c.GetProperty("bos").GetString()!, c.GetProperty("eos").GetString()!);
        Assert.NotNull(template);
        Assert.Equal(c.GetProperty("family").GetString(), template.Name);
        Assert.Equal(c.GetProperty("expected").GetString(), template.RenderText(Messages(c), c.GetProperty("add_generation_prompt").GetBoolean()));
    }

    [Fact]
    public void Only_the_assistant_s_answers_and_their_end_of_turn_are_learned()
    {
        var c = Data().GetProperty("cases").EnumerateArray().First(e => e.GetProperty("family").GetString() == "chatml");
        var template = ChatTemplate.Recognise(c.GetProperty("template").GetString()!)!;
        var learned = template.Render(Messages(c), false).Where(s => s.Learned).Select(s => s.Text).ToList();
        Assert.Equal(["I'm doing great. How can I help you today?<|im_end|>"], learned);
        Assert.Equal("<|im_end|>", template.EndOfTurn);
    }

    [Fact]
    public void Templates_of_other_families_are_refused_and_the_folder_error_names_the_file_and_the_families()
    {
        foreach (var u in Data().GetProperty("unsupported").EnumerateArray())
            Assert.Null(ChatTemplate.Recognise(u.GetProperty("template").GetString()!));
        var gemma = Data().GetProperty("unsupported")[0].GetProperty("template").GetString()!;
        var dir = TokenizerTestData.WriteFolder(("tokenizer_config.json", JsonSerializer.Serialize(new Dictionary<string, string> { ["chat_template"] = gemma })));
        var e = Assert.Throws<PeftException>(() => ChatTemplate.FromFolder(dir));
        Assert.Contains(Path.Combine(dir, "tokenizer_config.json"), e.Message);
        Assert.Contains("ChatML (as Qwen2), Llama-3", e.Message);
        Assert.Contains("chatml, llama-3, llama-2, mistral, zephyr", e.Message);
        Assert.Null(ChatTemplate.FromFolder(TokenizerTestData.WriteFolder(("tokenizer_config.json", "{}"))));
    }

    [Fact]
    public void Inst_templates_refuse_a_conversation_that_does_not_alternate()
    {
        var mistral = ChatTemplate.Named(ChatTemplate.Mistral);
        var e = Assert.Throws<PeftException>(() => mistral.RenderText([new("system", "Be brief."), new("user", "Hi")], false));
        Assert.Contains("message 1 is \"system\"", e.Message);
    }
}
