"""Datasets, benchmarks and metrics a paper names, and the new ones it introduces.

Known names come from ``mentions.yaml`` (configuration). New names are discovered where a paper says
it introduces one ("we introduce X-Bench, a benchmark for ...", "we release Y, a large-scale dataset").
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cached_property
from pathlib import Path

import yaml

from core.records import Mention

DICTIONARY_FILE = Path(__file__).with_name("mentions.yaml")
KINDS = {"datasets": "dataset", "benchmarks": "benchmark", "metrics": "metric"}
# Two letters that are also English words: counted only beside another metric or under their long name.
_AMBIGUOUS = {"IS", "KL"}

_INTRODUCING = re.compile(
    r"\b(?:we|this (?:paper|work))\s+(?:also\s+|further\s+)?(?:introduce|present|propose|release|construct|build|"
    r"curate|collect|contribute|create|establish|develop)s?\b(?P<rest>[^.;]{0,160})",
    re.IGNORECASE,
)
_NAME = r"[A-Z][A-Za-z0-9]*(?:[-+][A-Za-z0-9]+)*\+*"
_KIND_WORD = re.compile(r"\b(benchmark|dataset|data set|corpus|metric|test suite|evaluation suite)s?\b", re.I)
_NAMED_THING = re.compile(
    rf"(?P<name>{_NAME}(?: (?:Bench|Benchmark|Set|Suite))?)\s*(?:\([^)]*\))?\s*,\s*(?:a|an|the)\s+"
    rf"(?:[\w-]+\s+){{0,4}}?(?P<kind>benchmark|dataset|corpus|metric)"
)
_THING_NAMED = re.compile(
    rf"(?P<kind>benchmark|dataset|corpus|metric)s?\s*,?\s*(?:named|called|dubbed|termed)?\s*"
    rf"(?P<name>{_NAME})"
)
_NOT_NAMES = {"We", "The", "This", "Our", "It", "In", "To", "A", "An", "First", "New", "Novel", "Extensive"}


def _pattern(spelling: str) -> re.Pattern[str]:
    # word boundaries that also work for names ending in "+" (AIST++) or holding "-" (LSE-C)
    return re.compile(rf"(?<![\w-]){re.escape(spelling)}(?![\w-]|\+)")


class MentionDictionary:
    """Known names and their spellings, from a YAML file."""

    def __init__(self, path: Path = DICTIONARY_FILE) -> None:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.entries: list[tuple[str, str, list[str]]] = []
        for group, kind in KINDS.items():
            for entry in raw.get(group, []):
                self.entries.append((entry["name"], kind, [entry["name"], *entry.get("aliases", [])]))

    @cached_property
    def spelling_to_name(self) -> dict[str, str]:
        """Each name and alias as written in the vocabulary, mapped to the name a mention is stored under."""
        return {spelling: name for name, _, spellings in self.entries for spelling in spellings}

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """One alternation of every spelling, longest first, so one scan finds them all."""
        spellings = sorted(self.spelling_to_name, key=len, reverse=True)
        return re.compile(rf"(?<![\w-])(?:{'|'.join(map(re.escape, spellings))})(?![\w-]|\+)")

    def kind_of(self, name: str) -> str | None:
        """The kind of a known name (dataset, benchmark or metric), or None for a name not in the vocabulary."""
        return next((kind for known, kind, _ in self.entries if known == name), None)


def _kind(word: str) -> str:
    word = word.lower()
    if word.startswith("bench") or "suite" in word:
        return "benchmark"
    return "metric" if word.startswith("metric") else "dataset"


def discover_introduced(text: str) -> dict[str, str]:
    """Names the text says it introduces, with their kind (``X-Bench`` -> benchmark)."""
    found: dict[str, str] = {}
    flat = re.sub(r"\s+", " ", text)
    for sentence in _INTRODUCING.finditer(flat):
        rest = sentence["rest"]
        if not _KIND_WORD.search(rest) and not re.search(r"Bench\b", rest):
            continue
        for pattern in (_NAMED_THING, _THING_NAMED):
            for match in pattern.finditer(rest):
                name = match["name"].rstrip("-")
                if _is_name(name):
                    found.setdefault(name, _kind(match["kind"]))
        for bench in re.finditer(rf"\b({_NAME}Bench|{_NAME}-Bench)\b", rest):
            if _is_name(bench[1]):
                found.setdefault(bench[1], "benchmark")
    return found


def _is_name(name: str) -> bool:
    return (
        name not in _NOT_NAMES
        and len(name) >= 3
        and (sum(character.isupper() for character in name) >= 2 or any(c.isdigit() or c in "-+" for c in name))
    )


def find_mentions(text: str, dictionary: MentionDictionary) -> list[Mention]:
    """Known names counted in the text, plus names the text introduces."""
    counts = Counter(dictionary.spelling_to_name[spelling] for spelling in dictionary.pattern.findall(text))
    kinds = {name: dictionary.kind_of(name) or "dataset" for name in counts}
    other_metrics = sum(count for name, count in counts.items() if kinds[name] == "metric" and name not in _AMBIGUOUS)
    for name in _AMBIGUOUS & set(counts):
        if not other_metrics:
            del counts[name]
    introduced = discover_introduced(text)
    for name, kind in introduced.items():
        if name not in counts:
            counts[name] = max(1, len(_pattern(name).findall(text)))
            kinds[name] = dictionary.kind_of(name) or kind
    return [Mention(name, kinds[name], count, name in introduced) for name, count in sorted(counts.items())]
