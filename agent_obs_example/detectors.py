"""Performance-issue detectors over a Dremio query profile.

Each detector looks at one kind of problem and returns a ``Detection``; ``DETECTORS`` is the
default set. They are pure functions of the SQL text and the profile, so they are cheap to
test and safe to run on every request. Severities: low < medium < high < critical.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections.abc import Iterator
from typing import Any, Protocol

SEVERITIES = ("low", "medium", "high", "critical")
ISSUE_TYPES = (
    "full_table_scan", "missing_reflection", "join_explosion", "data_skew",
    "spill_to_disk", "small_files", "select_star",
)
_SCAN = "PARQUET_ROW_GROUP_SCAN"
_JOINS = ("HASH_JOIN", "MERGE_JOIN", "NESTED_LOOP_JOIN")
_GB = 1024**3


@dataclasses.dataclass(frozen=True)
class Detection:
    issue_type: str
    detected: bool
    severity: str = "low"
    summary: str = ""
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"issue_type": self.issue_type, "severity": self.severity,
                "summary": self.summary, "evidence": dict(self.evidence)}


class Detector(Protocol):
    issue_type: str

    def detect(self, query: str, profile: dict[str, Any]) -> Detection: ...


def _operators(profile: dict[str, Any]) -> Iterator[tuple[int, int, dict[str, Any]]]:
    for fragment in profile.get("fragmentProfile", []):
        for minor in fragment.get("minorFragmentProfile", []):
            for op in minor.get("operatorProfile", []):
                yield fragment.get("majorFragmentId", 0), minor.get("minorFragmentId", 0), op


def _input_records(op: dict[str, Any]) -> int:
    return sum(int(p.get("records", 0)) for p in op.get("inputProfile", []))


def _duration_s(profile: dict[str, Any]) -> float:
    return max(0.0, (profile.get("end", 0) - profile.get("start", 0)) / 1000)


def _largest_dataset(profile: dict[str, Any]) -> dict[str, Any]:
    datasets = profile.get("datasetProfile") or [{}]
    return max(datasets, key=lambda d: d.get("rowCount", 0))


class FullTableScanDetector:
    issue_type = "full_table_scan"

    def detect(self, query: str, profile: dict[str, Any]) -> Detection:
        scans = [op for _, _, op in _operators(profile) if op.get("operatorType") == _SCAN]
        scanned = sum(_input_records(op) for op in scans)
        pruned = sum(int(op.get("metric", {}).get("PARTITIONS_PRUNED", 0)) for op in scans)
        biggest = _largest_dataset(profile)
        rows = int(biggest.get("rowCount", 0))
        if not scans or rows < 10_000_000 or scanned < 0.9 * rows or pruned > 0:
            return Detection(self.issue_type, False)
        severity = "critical" if scanned >= 1_000_000_000 else "high" if scanned >= 100_000_000 else "medium"
        return Detection(self.issue_type, True, severity,
                         f"Scans all {scanned:,} rows of {biggest['datasetPath']} with no partition pruning",
                         {"rows_scanned": scanned, "dataset": biggest["datasetPath"],
                          "partition_columns": biggest.get("partitionColumns", [])})


class MissingReflectionDetector:
    issue_type = "missing_reflection"

    def detect(self, query: str, profile: dict[str, Any]) -> Detection:
        accelerated = profile.get("accelerationProfile", {}).get("accelerated", False)
        seconds = _duration_s(profile)
        biggest = _largest_dataset(profile)
        aggregates = re.search(r"\bGROUP\s+BY\b", query, re.IGNORECASE) is not None
        if accelerated or not aggregates or seconds < 30 or biggest.get("rowCount", 0) < 100_000_000:
            return Detection(self.issue_type, False)
        severity = "high" if seconds >= 120 else "medium"
        return Detection(self.issue_type, True, severity,
                         f"Aggregation over {biggest['datasetPath']} ran {seconds:.0f}s without a reflection",
                         {"duration_s": round(seconds, 1), "dataset": biggest["datasetPath"],
                          "dataset_rows": biggest.get("rowCount", 0)})


class JoinExplosionDetector:
    issue_type = "join_explosion"

    def detect(self, query: str, profile: dict[str, Any]) -> Detection:
        worst = 0.0
        for _, _, op in _operators(profile):
            if op.get("operatorType") in _JOINS and _input_records(op):
                worst = max(worst, op.get("outputRecords", 0) / _input_records(op))
        if worst < 10:
            return Detection(self.issue_type, False)
        return Detection(self.issue_type, True, "high" if worst >= 40 else "medium",
                         f"A join emits {worst:.0f}x the rows it reads", {"fanout": round(worst, 1)})


class DataSkewDetector:
    issue_type = "data_skew"

    def detect(self, query: str, profile: dict[str, Any]) -> Detection:
        worst_ratio, worst_fragment = 0.0, None
        for fragment in profile.get("fragmentProfile", []):
            minors = fragment.get("minorFragmentProfile", [])
            if len(minors) < 3:
                continue
            busy = [sum(op.get("processNanos", 0) for op in m.get("operatorProfile", [])) for m in minors]
            median = statistics.median(busy)
            if median > 0 and max(busy) / median > worst_ratio:
                worst_ratio, worst_fragment = max(busy) / median, fragment.get("majorFragmentId")
        if worst_ratio < 3:
            return Detection(self.issue_type, False)
        return Detection(self.issue_type, True, "high" if worst_ratio >= 8 else "medium",
                         f"One thread of fragment {worst_fragment} works {worst_ratio:.1f}x the median",
                         {"max_to_median": round(worst_ratio, 1), "major_fragment": worst_fragment})


class SpillToDiskDetector:
    issue_type = "spill_to_disk"

    def detect(self, query: str, profile: dict[str, Any]) -> Detection:
        spilled = sum(int(op.get("spilledBytes", 0)) for _, _, op in _operators(profile))
        if spilled <= 0:
            return Detection(self.issue_type, False)
        severity = "critical" if spilled >= 16 * _GB else "high" if spilled >= _GB else "medium"
        kinds = sorted({op["operatorType"] for _, _, op in _operators(profile) if op.get("spilledBytes")})
        return Detection(self.issue_type, True, severity,
                         f"{spilled / _GB:.1f} GiB spilled to disk by {', '.join(kinds)}",
                         {"spilled_bytes": spilled, "operators": kinds})


class SmallFilesDetector:
    issue_type = "small_files"

    def detect(self, query: str, profile: dict[str, Any]) -> Detection:
        scans = [op.get("metric", {}) for _, _, op in _operators(profile) if op.get("operatorType") == _SCAN]
        files = sum(int(m.get("NUM_FILES", 0)) for m in scans)
        if not scans or files < 1000:
            return Detection(self.issue_type, False)
        avg = sum(float(m.get("AVG_FILE_SIZE_BYTES", 0)) * int(m.get("NUM_FILES", 0)) for m in scans) / files
        if avg >= 16 * 1024 * 1024:
            return Detection(self.issue_type, False)
        return Detection(self.issue_type, True, "high" if avg < 4 * 1024 * 1024 else "medium",
                         f"{files:,} files averaging {avg / 1024 / 1024:.1f} MiB",
                         {"files": files, "avg_file_bytes": int(avg)})


class SelectStarDetector:
    issue_type = "select_star"

    def detect(self, query: str, profile: dict[str, Any]) -> Detection:
        if not re.search(r"\bSELECT\s+\*", query, re.IGNORECASE):
            return Detection(self.issue_type, False)
        widest = max((len(d.get("fields", [])) for d in profile.get("datasetProfile", [])), default=0)
        if widest < 8:
            return Detection(self.issue_type, False)
        return Detection(self.issue_type, True, "low", f"SELECT * reads all {widest} columns",
                         {"columns": widest})


DETECTORS: tuple[Detector, ...] = (
    FullTableScanDetector(), MissingReflectionDetector(), JoinExplosionDetector(), DataSkewDetector(),
    SpillToDiskDetector(), SmallFilesDetector(), SelectStarDetector(),
)
