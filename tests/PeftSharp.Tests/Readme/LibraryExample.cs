// README "The library": begin usings
using PeftSharp.Models;
using PeftSharp.Tokenization;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using static TorchSharp.torch;
// README "The library": end usings

namespace PeftSharp.Tests.Readme;

/// <summary>
/// The README's library example, compiled here and run by <see cref="LibraryExampleTests"/>, which also checks that
/// the README quotes exactly the regions between the markers, so the example cannot drift from code that works.
/// </summary>
public static class LibraryExample
{
    /// <summary>Runs the example on a BERT-family folder and a JSON-lines file of {"text", "label"}; returns P(positive) of a new text.</summary>
    public static double Run(string modelDir, string dataFile, string outputDir)
    {
        // README "The library": begin body
        // modelDir: a BERT-family model folder; dataFile: JSON lines {"text": ..., "label": 0 or 1}.
        // The Trainer: options in, a run folder with the trained adapter out (what `peft train` does).
        var summary = new Trainer(new TrainingOptions { Model = modelDir, TrainData = dataFile, Output = Path.Combine(outputDir, "run"), MaxSteps = 4 }).Run();
        Console.WriteLine($"Trainer: adapter in {summary.AdapterDir}");

        // Or your own loop: tokenize, forward with labels, backward, step.
        var tokenizer = AutoTokenizer.FromPretrained(modelDir);
        ModelInputs Encode(params string[] texts)
        {
            var batch = BatchEncoding.Create(tokenizer, texts);
            long[] shape = [batch.BatchSize, batch.SequenceLength];
            return new ModelInputs { InputIds = tensor(batch.InputIdsFlat(), shape), AttentionMask = tensor(batch.AttentionMaskFlat(), shape) };
        }

        using var model = AutoModel.ForSequenceClassification(modelDir, numLabels: 2);
        var peft = PeftModel.Create(model, new LoraConfig { R = 8, LoraAlpha = 16, Targets = new TargetSpec { TargetList = ["query", "value"] } });
        Console.WriteLine(peft.TrainableParameters());                  // trainable params: ... || trainable%: ...
        var optimizer = optim.AdamW(peft.parameters().Where(p => p.requires_grad), lr: 1e-2);
        peft.train();
        for (int step = 0; step < 10; step++)
        {
            using var scope = NewDisposeScope();                         // frees the step's tensors
            var inputs = Encode("a great film", "an awful film") with { Labels = tensor(new long[] { 1, 0 }) };
            var loss = peft.Forward(inputs).Loss!;                       // cross-entropy, as transformers' labels= gives
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        peft.Save(Path.Combine(outputDir, "my-adapter"));               // PEFT's adapter_config.json + adapter_model.safetensors

        // Reload onto a fresh base and predict.
        using var fresh = AutoModel.ForSequenceClassification(modelDir, numLabels: 2);
        var loaded = PeftModel.Load(fresh, Path.Combine(outputDir, "my-adapter"));  // in eval mode
        using var noGrad = no_grad();
        var probabilities = loaded.Forward(Encode("what a great film")).Logits!.softmax(-1);
        double positive = probabilities[0, 1].item<float>();
        Console.WriteLine($"P(positive) = {positive:F2}");
        // README "The library": end body
        return positive;
    }
}
