using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Options;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.PromptLearning.PromptTuning;

/// <summary>
/// Prompt tuning (Lester et al. 2021): num_virtual_tokens trained embeddings in front of the input embeddings
/// (<see cref="VirtualTokensHook"/>); the tensor trained is the tensor saved, prompt_embeddings [V x submodules, hidden].
/// </summary>
public sealed class PromptTuningTuner : PromptLearningTuner<PromptTuningConfig>
{
    public static readonly MethodOption<string> Init = new(PromptLearningOptions.PromptTuning, "prompt_tuning_init", "RANDOM",
        new OptionAttribute("Initial virtual tokens: RANDOM (N(0,1)), SAMPLE_VOCAB (embeddings of random vocabulary tokens), TEXT (embeddings of prompt_tuning_init_text's tokens)")
        { Choices = PromptTuningConfig.Inits });

    public static readonly MethodOption<string?> InitText = new(PromptLearningOptions.PromptTuning, "prompt_tuning_init_text", null,
        new OptionAttribute("TEXT init: the text whose tokens' embeddings start the prompt (tiled or cut to num_virtual_tokens)"), nullable: true);

    public override MethodDescription Description { get; } = new()
    {
        PeftType = "PROMPT_TUNING",
        Name = PromptLearningOptions.PromptTuning,
        Title = "Prompt tuning",
        Summary = "trained virtual-token embeddings prepended to the input (the base model is untouched)",
        Trains = true,
        Mergeable = false,
        Options = [PromptLearningOptions.NumVirtualTokens, Init, InitText],
    };

    protected override PromptTuningConfig Read(JsonConfig json) => PromptTuningConfig.Read(json);

    public override PeftConfig CreateConfig(MethodSettings s)
    {
        var config = Start(s, new PromptTuningConfig { PromptTuningInit = Init.Get(s.Options), PromptTuningInitText = InitText.Get(s.Options) });
        if (config.PromptTuningInit != "TEXT") return config;
        if (string.IsNullOrEmpty(config.PromptTuningInitText))
            throw new PeftException("prompt_tuning_init TEXT starts the virtual tokens from a text: give prompt_tuning_init_text (--prompt-tuning-init-text)");
        var ids = s.Tokenize?.Invoke(config.PromptTuningInitText)
            ?? throw new PeftException("prompt_tuning_init TEXT needs the base model's tokenizer, and none was given");
        if (ids.Count == 0) throw new PeftException($"prompt_tuning_init_text \"{config.PromptTuningInitText}\" has no tokens");
        config.InitTokenIds = [.. ids.Select(i => (long)i)];
        // PEFT requires tokenizer_name_or_path with TEXT (its trainable reload tokenizes the text again); the base model's folder holds the tokenizer.
        config.TokenizerNameOrPath ??= s.BaseModel;
        return config;
    }

    public override string Describe(MethodSettings s) => $"{base.Describe(s)}, {Init.Get(s.Options)} init";

    protected override PromptAdapter Create(PretrainedModel model, PromptTuningConfig config, bool fromSaved)
    {
        int rows = config.TotalVirtualTokens, width = config.TokenDim!.Value;
        var initial = fromSaved ? zeros(rows, width, device: model.Device) : Initial(model, config, rows, width);
        return PromptAdapter.Held(initial, prompts => new VirtualTokensHook(prompts, config.NumVirtualTokens, config.TaskType));
    }

    private static Tensor Initial(PretrainedModel model, PromptTuningConfig config, int rows, int width)
    {
        var words = model.InputEmbeddings.weight!;
        if (config.PromptTuningInit == "RANDOM") return Embedding(rows, width, model);
        if (words.shape[1] != width)
            throw new PeftException($"prompt_tuning_init {config.PromptTuningInit} copies word embeddings of width {words.shape[1]}, but token_dim is {width}");
        Tensor ids;
        if (config.PromptTuningInit == "SAMPLE_VOCAB") ids = randint(0, words.shape[0], [rows], dtype: ScalarType.Int64, device: words.device);
        else
        {
            var text = config.InitTokenIds is { Count: > 0 } given ? given
                : throw new PeftException("prompt_tuning_init TEXT needs the token ids of prompt_tuning_init_text");
            // PEFT: cut to length, or repeat the whole text enough times and cut.
            ids = tensor(Enumerable.Range(0, rows).Select(i => text[i % text.Count]).ToArray(), dtype: ScalarType.Int64, device: words.device);
        }
        using (no_grad()) return words.index_select(0, ids).to(ScalarType.Float32);
    }
}
