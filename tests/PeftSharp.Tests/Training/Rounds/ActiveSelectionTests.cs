using PeftSharp.Training.Rounds;

namespace PeftSharp.Tests.Training.Rounds;

public class ActiveSelectionTests
{
    private static readonly double[][] Pool = [[0.99, 0.01], [0.5, 0.5], [0.9, 0.1], [0.55, 0.45], [0.7, 0.3]];

    private static IReadOnlyList<int> Choose(string strategy, double[][] pool, int count, bool diverse = false, float[][]? e = null) =>
        ActiveSelection.Choose(strategy, pool.Select(p => ActiveSelection.Score(strategy, p)).ToList(), count, seed: 1, diverse, e);

    [Theory]
    [InlineData("entropy")]
    [InlineData("margin")]
    [InlineData("least-confidence")]
    public void Each_strategy_picks_the_examples_nearest_the_decision_boundary_most_uncertain_first(string strategy) =>
        Assert.Equal([1, 3, 4], Choose(strategy, Pool, 3));

    [Fact]
    public void The_scores_are_the_textbook_formulas_and_entropy_and_margin_can_disagree()
    {
        Assert.Equal(Math.Log(2), ActiveSelection.Score("entropy", [0.5, 0.5]), 12);
        Assert.Equal(0.8, ActiveSelection.Score("margin", [0.1, 0.9]), 12);
        Assert.Equal(0.1, ActiveSelection.Score("least-confidence", [0.9, 0.1]), 12);
        // Two classes tied, a third impossible: margin 0 (most uncertain by margin), entropy ln 2; spread over three: margin 0.1, entropy 1.09.
        double[][] three = [[0.5, 0.5, 0.0], [0.4, 0.3, 0.3]];
        Assert.Equal([0], Choose("margin", three, 1));
        Assert.Equal([1], Choose("entropy", three, 1));
    }

    [Fact]
    public void Random_is_a_seeded_permutation_the_same_for_a_seed()
    {
        var scores = new double[50];
        var a = ActiveSelection.Choose("random", scores, 10, seed: 5);
        Assert.Equal(a, ActiveSelection.Choose("random", scores, 10, seed: 5));
        Assert.NotEqual(a, ActiveSelection.Choose("random", scores, 10, seed: 6));
        Assert.Equal(10, a.Distinct().Count());
        Assert.All(a, i => Assert.InRange(i, 0, 49));
        Assert.Equal(50, ActiveSelection.Choose("random", scores, 80, seed: 5).Distinct().Count()); // never more than the pool
    }

    [Fact]
    public void Diverse_skips_a_near_duplicate_of_an_example_already_chosen()
    {
        // Examples 1 and 3 are the two most uncertain but say the same thing; 4 is the farthest from 1 (k-center's next pick).
        float[][] e = [[0.7071f, 0.7071f], [0, 1], [0.7071f, 0.7071f], [0.02f, 0.9998f], [1, 0]];
        Assert.Equal([1, 3], Choose("entropy", Pool, 2));
        Assert.Equal([1, 4], Choose("entropy", Pool, 2, diverse: true, e: e));
        Assert.Throws<PeftException>(() => ActiveSelection.Choose("random", new double[5], 2, 1, diverse: true));
        Assert.Throws<PeftException>(() => ActiveSelection.Choose("entropy", new double[5], 2, 1, diverse: true));
        Assert.Throws<PeftException>(() => ActiveSelection.Choose("confidence", new double[5], 2, 1));
    }
}
