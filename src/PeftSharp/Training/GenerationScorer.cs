using PeftSharp.Data;
using PeftSharp.Evaluation.Metrics;
using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Tokenization;

namespace PeftSharp.Training;

/// <summary>
/// Scores what a model generates against references with BLEU, chrF, chrF++ and ROUGE (the reference
/// implementations' numbers), for seq2seq (source to target) and instruction (prompt to completion) data.
/// </summary>
public static class GenerationScorer
{
    public static readonly IReadOnlyList<string> Metrics = ["bleu", "chrf", "chrf++", "rouge"];

    public static Dictionary<string, double> Score(PretrainedModel model, ITextTokenizer tokenizer, IReadOnlyList<DataRecord> records,
        string task, IReadOnlyList<string> metrics, GenerationOptions generation, string inputField, string referenceField, int batchSize = 8)
    {
        foreach (var m in metrics)
            if (!Metrics.Contains(m)) throw new PeftException($"metric \"{m}\" is not one of {string.Join(", ", Metrics)}");
        var prompts = new List<IReadOnlyList<long>>();
        var references = new List<IReadOnlyList<string>>();
        foreach (var r in records)
        {
            var input = r.GetString(inputField) ?? throw new PeftException($"{r.Location}: no \"{inputField}\" field");
            var reference = r.GetString(referenceField) ?? throw new PeftException($"{r.Location}: no \"{referenceField}\" field");
            var text = task == "instruction" ? InstructionTemplate.Default.Prompt.Split("{completion}")[0].Replace("{prompt}", input, StringComparison.Ordinal) : input;
            prompts.Add(tokenizer.Encode(text).Select(i => (long)i).ToArray());
            references.Add([reference]);
        }
        var hypotheses = new List<string>();
        for (int i = 0; i < prompts.Count; i += batchSize)
        {
            var batch = prompts.Skip(i).Take(batchSize).ToList();
            foreach (var ids in Generator.Generate(model, batch, generation))
                hypotheses.Add(tokenizer.Decode(ids.Select(x => (int)x), skipSpecialTokens: true).Trim());
        }
        var result = new Dictionary<string, double>();
        foreach (var m in metrics)
        {
            switch (m)
            {
                case "bleu": result["bleu"] = new Bleu().CorpusScore(hypotheses, references).Score; break;
                case "chrf": result["chrf"] = new ChrF(ChrFOptions.ChrF).CorpusScore(hypotheses, references).Score; break;
                case "chrf++": result["chrf++"] = new ChrF(ChrFOptions.ChrFPlusPlus).CorpusScore(hypotheses, references).Score; break;
                case "rouge":
                    var rouge = new Rouge(["rouge1", "rouge2", "rougeL"]).CorpusScore(hypotheses, references);
                    foreach (var (type, score) in rouge.Mean) result[type] = score.FMeasure;
                    break;
            }
        }
        return result;
    }
}
