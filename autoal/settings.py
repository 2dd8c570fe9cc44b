"""The settings of a run: one frozen, validated record that the engine reads.

:class:`Settings` is checked once, from the one table of constraints in
:mod:`autoal._checks`. Each field says whether a resumed run must share it
(``resume=True`` in its metadata): those are the settings that change the picks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ._checks import check_params

_RESUME = {"resume": True}


@dataclass(frozen=True)
class Settings:
    """How a :class:`autoal.session.Session` runs.

    Attributes
    ----------
    label : name of the label column.
    strategy : a name from :data:`autoal.strategies.STRATEGIES` or a strategy function.
    batch : rows to pick per round (``Session.ask`` may be given another).
    seed : the only source of randomness.
    init : how the initial set was chosen: per-class count, or ``"rows"``.
    test_size : fraction of labeled rows held out for evaluation.
    learner : ``"auto"``, ``"tabular"``, ``"embedding"``, ``"multimodal"`` or a learner object.
    time_limit : seconds per fit (None: the learner's own, else no limit).
    relabel : whether people may be asked for second opinions (labeling projects).
    chunk_size : rows per ``predict_proba`` call.
    ray_address : None, or a Ray address to predict and embed on.
    progress : show progress bars.
    """

    label: str = field(default="label", metadata=_RESUME)
    strategy: object = field(default="auto", metadata=_RESUME)
    batch: int = field(default=150, metadata=_RESUME)
    seed: int = field(default=0, metadata=_RESUME)
    init: object = field(default=8, metadata=_RESUME)
    test_size: float = field(default=0.2, metadata=_RESUME)
    learner: object = "auto"
    time_limit: float | None = None
    relabel: bool = field(default=False, metadata=_RESUME)
    chunk_size: int = 100_000
    ray_address: str | None = None
    progress: bool = True
    owner: str = field(default="loop", compare=False, repr=False)

    def __post_init__(self):
        checked = check_params(self.owner, **{f.name: getattr(self, f.name) for f in fields(self)
                                              if f.name != "owner"})
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def strategy_name(self) -> str:
        """The strategy's registered name, or its function's name."""
        if isinstance(self.strategy, str):
            return self.strategy
        return getattr(self.strategy, "__name__", "custom")

    def resume_keys(self) -> dict:
        """The settings a resumed run must share, as plain values (for ``autoal.json``)."""
        out = {}
        for f in fields(self):
            if f.metadata.get("resume"):
                value = getattr(self, f.name)
                out[f.name] = self.strategy_name() if f.name == "strategy" else value
        if not isinstance(out["init"], (int, str)):
            out["init"] = "rows"
        return out
