"""The learned decisions' common form: standardised named inputs and a linear model over them, saved as JSON
(shipped beside the code, or stored with an index version by `notes-qa calibrate`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class LinearModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    trained_on: str = ""
    n_questions: int = 0

    KIND: ClassVar[str] = "linear"
    KNOWN: ClassVar[tuple[str, ...]] = ()  # the inputs a model of this kind may use

    def to_dict(self) -> dict[str, Any]:
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        return {"kind": self.KIND, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """A saved model; ``ValueError`` when it names inputs this kind does not know or its lengths disagree."""
        vectors = {"features": str, "mean": float, "scale": float, "coef": float}
        values: dict[str, Any] = {k: tuple(t(v) for v in data[k]) for k, t in vectors.items()}
        values["intercept"] = float(data["intercept"])
        scalars = {f.name: f.type for f in fields(cls) if f.name not in values}  # trained_on, n_questions, top_k …
        for name, kind in scalars.items():
            if name in data:
                values[name] = int(data[name]) if kind in ("int", int) else str(data[name])
        model = cls(**values)
        if set(model.features) - set(cls.KNOWN) or not (
            len(model.features) == len(model.mean) == len(model.scale) == len(model.coef)
        ):
            raise ValueError(f"{cls.KIND} model uses unknown features or is malformed: {model.features}")
        return model
