import autoal


def test_public_surface_is_pinned():
    assert sorted(autoal.__all__) == [
        "Budget", "EmbeddingLearner", "MultiModalLearner", "Result", "STRATEGIES", "SimulatedAnnotators", "SimulatedOracle",
        "StablePredictions", "TabularLearner", "TargetAccuracy", "bench", "infer_column_types", "loop", "plot_curves", "read_table",
    ]
    for name in autoal.__all__:
        assert hasattr(autoal, name)
    assert sorted(autoal.STRATEGIES) == ["activelab", "entropy", "good_random", "least_confidence", "margin",
                                       "random"]
