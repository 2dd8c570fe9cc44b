import autoal


def test_public_surface_is_pinned():
    assert sorted(autoal.__all__) == [
        "Budget", "EmbeddingLearner", "MultiModalLearner", "Project", "Result", "STRATEGIES", "SimulatedAnnotators", "SimulatedOracle",
        "StablePredictions", "TabularLearner", "TargetAccuracy", "bench", "infer_column_types", "loop", "plot_curves", "read_table",
    ]
    for name in autoal.__all__:
        assert hasattr(autoal, name)
    assert sorted(autoal.STRATEGIES) == [
        "activelab", "activelab_ensemble", "activelab_margin", "activelab_margin_diverse_warm",
        "activelab_margin_diverse_warm_typical", "auto", "bald", "cluster", "coreset", "entropy",
        "expected_model_change", "good_random", "information_density", "kl_divergence", "least_confidence",
        "margin", "margin_diverse", "random", "typical", "variation_ratio", "vote_entropy"]
