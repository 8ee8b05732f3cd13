"""Inter-coder agreement: how far two or more evaluators who coded the same sources independently
agree, per code and per source, as NVivo's and MAXQDA's coding comparisons report it and beyond.

The unit is a character of a source (NVivo's method): for each code, each coder either coded a
character (it lies inside an excerpt the coder coded with the code) or did not. Over a source's
characters:

- **percent agreement** between two coders: the share of characters both coded or both left uncoded;
- **Cohen's κ** between two coders: (p_o - p_e) / (1 - p_e), p_o the observed agreement and p_e the
  agreement expected from each coder's own share of coded characters; when p_e is 1 (both coded
  everything, or nothing) and they agree, κ is 1, as NVivo reports it;
- **Krippendorff's α** (nominal) across all the coders at once, computed by the `krippendorff`
  package (a well-kept implementation: α has corner cases we would rather not re-derive); None
  when it is undefined (every character has the same value for every coder: nothing to tell apart).

With more than two coders, percent agreement and κ are the mean over the pairs, and each pair is
listed. Over several sources a code's figures weigh each source by its length: percent agreement
and α pool the characters of all the sources; κ is the mean of the sources' κ weighted by their
length (NVivo's "weighted by source size"). The overall figures do the same across codes.

Where coders disagree: the spans of a source over which the coders' coding is not unanimous, each
with who coded it, so the workbench can link to the passage.

Costs two queries whatever the number of codings: the sources' lengths, then every coding of the
given coders on them (with its excerpt's offsets).
"""

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

DISAGREEMENTS_SHOWN = 100  # per code and source; the total is always given


@dataclass
class PairFigures:
    coders: tuple
    percent_agreement: float
    kappa: float | None

    def as_dict(self):
        return {"coders": list(self.coders), "percent_agreement": _round(self.percent_agreement),
                "kappa": _round(self.kappa)}


@dataclass
class Figures:
    """Agreement over some characters (one source, or several pooled)."""

    units: int
    percent_agreement: float | None
    kappa: float | None
    alpha: float | None
    pairs: list = field(default_factory=list)

    def as_dict(self):
        return {"units": self.units, "percent_agreement": _round(self.percent_agreement), "kappa": _round(self.kappa),
                "alpha": _round(self.alpha), "pairs": [pair.as_dict() for pair in self.pairs]}


def _round(value):
    return None if value is None else round(float(value), 4)


def cohen_kappa(a, b):
    """Cohen's κ of two boolean arrays of the same length (characters coded or not)."""
    units = len(a)
    if units == 0:
        return None
    observed = np.count_nonzero(a == b) / units
    p_a = np.count_nonzero(a) / units
    p_b = np.count_nonzero(b) / units
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    if expected >= 1:
        return 1.0 if observed >= 1 else 0.0
    return (observed - expected) / (1 - expected)


def krippendorff_alpha(matrix):
    """Krippendorff's α (nominal) of a coders × units boolean matrix; None when undefined."""
    import krippendorff

    if matrix.shape[1] == 0:
        return None
    coded = np.count_nonzero(matrix)
    if coded == 0 or coded == matrix.size:
        return None  # a single value in the whole domain: α is undefined
    # value_counts: per unit, how many coders gave each value (0, 1): the package's fast path.
    ones = matrix.sum(axis=0)
    value_counts = np.stack([matrix.shape[0] - ones, ones], axis=1)
    return float(krippendorff.alpha(value_counts=value_counts, level_of_measurement="nominal"))


def figures(matrix, coders):
    """Agreement of the coders (rows of a coders × units boolean matrix)."""
    units = matrix.shape[1]
    if units == 0:
        return Figures(0, None, None, None)
    pairs = []
    for i, j in combinations(range(len(coders)), 2):
        a, b = matrix[i], matrix[j]
        pairs.append(PairFigures((coders[i], coders[j]), 100 * np.count_nonzero(a == b) / units, cohen_kappa(a, b)))
    kappas = [pair.kappa for pair in pairs if pair.kappa is not None]
    return Figures(
        units,
        sum(pair.percent_agreement for pair in pairs) / len(pairs) if pairs else None,
        sum(kappas) / len(kappas) if kappas else None,
        krippendorff_alpha(matrix),
        pairs,
    )


def weighted(parts, coders):
    """Figures over several (matrix, Figures) parts: percent agreement and α pooled over all their
    characters, κ (overall and per pair) the mean of the parts' κ weighted by their units."""
    parts = [(matrix, part) for matrix, part in parts if part.units]
    if not parts:
        return Figures(0, None, None, None)
    pooled = figures(np.concatenate([matrix for matrix, _ in parts], axis=1), coders)
    for index, pair in enumerate(pooled.pairs):
        pair.kappa = _weighted_mean([(part.pairs[index].kappa, part.units) for _, part in parts])
    pooled.kappa = _weighted_mean([(part.kappa, part.units) for _, part in parts])
    return pooled


def _weighted_mean(values):
    values = [(value, weight) for value, weight in values if value is not None]
    total = sum(weight for _, weight in values)
    return sum(value * weight for value, weight in values) / total if total else None


def disagreements(matrix, coders):
    """[(start, end, [coders who coded it])] of the spans where the coders' coding is not unanimous."""
    if matrix.shape[1] == 0:
        return []
    weights = (1 << np.arange(matrix.shape[0], dtype=np.int64))[:, None]
    pattern = (matrix.astype(np.int64) * weights).sum(axis=0)
    full = (1 << matrix.shape[0]) - 1
    changes = np.flatnonzero(np.diff(pattern)) + 1
    starts = np.concatenate([[0], changes])
    ends = np.concatenate([changes, [matrix.shape[1]]])
    spans = []
    for start, end in zip(starts.tolist(), ends.tolist()):
        value = int(pattern[start])
        if value not in (0, full):
            spans.append((start, end, [coder for i, coder in enumerate(coders) if value >> i & 1]))
    return spans


@dataclass
class Comparison:
    """The request, resolved: the sources (with their lengths), the coders, the codes."""

    sources: list  # [(id, slug, title, length)]
    coders: list  # [User]
    codes: list  # [Code]


def coded_matrices(comparison):
    """{(code id, source id): coders × characters boolean matrix}, for every code given that any of the
    coders used on any of the sources (a code nobody used there has nothing to compare)."""
    from evidence.codes import Coding

    coder_row = {user.pk: row for row, user in enumerate(comparison.coders)}
    lengths = {source_id: length for source_id, _, _, length in comparison.sources}
    codings = (
        Coding.objects.filter(excerpt__source_id__in=list(lengths), coder_id__in=list(coder_row),
                              code_id__in=[code.pk for code in comparison.codes])
        .values_list("code_id", "excerpt__source_id", "coder_id", "excerpt__start", "excerpt__end")
    )
    matrices = {}
    for code_id, source_id, coder_id, start, end in codings.iterator(chunk_size=5000):
        key = code_id, source_id
        if key not in matrices:
            matrices[key] = np.zeros((len(coder_row), lengths[source_id]), dtype=bool)
        matrices[key][coder_row[coder_id], start:min(end, lengths[source_id])] = True
    return matrices


def compare(comparison, disagreements_shown=DISAGREEMENTS_SHOWN):
    """The agreement report: per code (the codes used on the sources, in the given order), per source
    and over all the sources, then overall; as a dict the API returns and the workbench page shows."""
    names = [user.username for user in comparison.coders]
    matrices = coded_matrices(comparison)
    results = []
    overall_parts = []
    for code in comparison.codes:
        per_source = []
        parts = []
        for source_id, slug, title, length in comparison.sources:
            matrix = matrices.get((code.pk, source_id))
            if matrix is None:
                # Nobody coded this source with the code: they agree on every character (α undefined).
                matrix = np.zeros((len(names), length), dtype=bool)
            part = figures(matrix, names)
            parts.append((matrix, part))
            spans = disagreements(matrix, names)
            per_source.append({
                "source": slug, "title": title, **part.as_dict(),
                "disagreements_total": len(spans),
                "disagreements": [{"start": start, "end": end, "coded_by": who}
                                  for start, end, who in spans[:disagreements_shown]],
            })
        if not any((code.pk, source_id) in matrices for source_id, *_ in comparison.sources):
            continue
        total = weighted(parts, names)
        overall_parts.extend(parts)
        results.append({"code": code.pk, "code_name": code.name, "guid": code.guid, **total.as_dict(),
                        "sources": per_source})
    return {
        "sources": [{"source": slug, "title": title, "units": length} for _, slug, title, length in comparison.sources],
        "coders": names,
        "results": results,
        "overall": weighted(overall_parts, names).as_dict(),
    }
