"""Benchmark: the matching engine against one compiled regex per term.

    python -m bench.matching [--terms 5000] [--articles 10000] [--naive-sample 200]

Generates (seeded) Vietnamese-like articles and topic terms, checks that the
engine and the naive approach agree on every sampled article, and prints the
time per article of both, their ratio, and the engine's time per article at
several term counts. Both sides normalise the same text with the same
normaliser, so the comparison is of the matching itself plus that shared cost.
The naive side is timed on a sample of articles because it is slow by design.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import time
import unicodedata
from dataclasses import dataclass

from crawler.matching import ArticleFields, Matcher, TopicSpec
from crawler.query import Term, parse_query, terms
from crawler.text import fold, normalize, term_keys

_INITIALS = [
    "",
    "b",
    "c",
    "ch",
    "d",
    "đ",
    "g",
    "gi",
    "h",
    "k",
    "kh",
    "l",
    "m",
    "n",
    "ng",
    "nh",
    "p",
    "ph",
    "qu",
    "r",
    "s",
    "t",
    "th",
    "tr",
    "v",
    "x",
]
_RHYMES = [
    "a",
    "ai",
    "am",
    "an",
    "ang",
    "anh",
    "ao",
    "au",
    "ay",
    "ă",
    "ăm",
    "ăn",
    "ăng",
    "âm",
    "ân",
    "âng",
    "âu",
    "ây",
    "e",
    "em",
    "en",
    "eo",
    "ê",
    "êm",
    "ên",
    "ênh",
    "êu",
    "i",
    "im",
    "in",
    "inh",
    "iêm",
    "iên",
    "iêu",
    "o",
    "oa",
    "oai",
    "oan",
    "oang",
    "oanh",
    "oe",
    "oi",
    "om",
    "on",
    "ong",
    "ô",
    "ôi",
    "ôm",
    "ôn",
    "ông",
    "ơ",
    "ơi",
    "ơm",
    "ơn",
    "u",
    "ui",
    "um",
    "un",
    "ung",
    "uy",
    "uyên",
    "uôi",
    "uôn",
    "uông",
    "ư",
    "ưa",
    "ưng",
    "ươi",
    "ươn",
    "ương",
    "ươu",
    "ưu",
    "y",
]
_TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
_STOP_FINALS = ("c", "ch", "p", "t")


def _syllable(rng: random.Random) -> str:
    initial, rhyme = rng.choice(_INITIALS), rng.choice(_RHYMES)
    tone = rng.choice(_TONES)
    vowels = [i for i, c in enumerate(rhyme) if c in "aăâeêioôơuưy"]
    # Put the mark on the last vowel of the nucleus (good enough for text that only has to look real).
    at = vowels[-1] if len(vowels) < 3 else vowels[1]
    return unicodedata.normalize("NFC", initial + rhyme[: at + 1] + tone + rhyme[at + 1 :])


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add(_syllable(rng))
    return sorted(words)


@dataclass
class Corpus:
    articles: list[ArticleFields]
    topics: list[TopicSpec]
    term_count: int


def _sentence(rng: random.Random, vocab: list[str], weights: list[float], length: int) -> str:
    words = rng.choices(vocab, weights, k=length)
    words[0] = words[0].capitalize()
    for i in range(1, length - 1):
        if rng.random() < 0.06:
            words[i] += ","
        elif rng.random() < 0.08:
            words[i] = words[i].capitalize()
    return " ".join(words) + rng.choice([".", ".", ".", "?", "!"])


def _article(rng: random.Random, vocab: list[str], weights: list[float]) -> ArticleFields:
    title = _sentence(rng, vocab, weights, rng.randint(8, 16)).rstrip(".?!")
    sapo = " ".join(_sentence(rng, vocab, weights, rng.randint(10, 20)) for _ in range(2))
    paragraphs = []
    for _ in range(rng.randint(6, 12)):
        paragraphs.append(
            " ".join(_sentence(rng, vocab, weights, rng.randint(8, 22)) for _ in range(rng.randint(2, 5)))
        )
    body = "\n\n".join(paragraphs)
    roll = rng.random()
    if roll < 0.05:  # some sources send decomposed text
        title, sapo, body = (unicodedata.normalize("NFD", part) for part in (title, sapo, body))
    elif roll < 0.15:  # and some have non-breaking and zero-width spaces
        body = body.replace(" ", "\u00a0", 40).replace(" ", " \u200b", 20)
    tags = [" ".join(rng.choices(vocab, weights, k=2)) for _ in range(rng.randint(1, 4))]
    category = [rng.choice(["Chính trị", "Kinh tế", "Xã hội", "Văn hóa", "Thể thao", "Thế giới"])]
    return ArticleFields(title, sapo, body, tags, category)


def _terms(
    rng: random.Random, vocab: list[str], weights: list[float], count: int, sample_texts: list[str]
) -> list[str]:
    """Half n-grams taken from real generated text (so they occur), half random phrases."""
    found: set[str] = set()
    words_of_samples = [text.split() for text in sample_texts]
    while len(found) < count:
        if rng.random() < 0.5:
            words = rng.choice(words_of_samples)
            n = rng.randint(2, 4)
            at = rng.randrange(0, max(1, len(words) - n))
            phrase = " ".join(w.strip(",.?!") for w in words[at : at + n])
        else:
            phrase = " ".join(rng.choices(vocab, weights, k=rng.randint(2, 4)))
        if rng.random() < 0.2:
            phrase = fold(normalize(phrase).key)  # typed without accents: matches folded
        if phrase.strip() and '"' not in phrase:
            found.add(phrase)
    return sorted(found)


def _topics(rng: random.Random, phrases: list[str]) -> list[TopicSpec]:
    specs: list[TopicSpec] = []
    i = 0
    while i < len(phrases):
        shape = rng.random()
        name = f"topic-{len(specs)}"
        if shape < 0.4 or i + 1 >= len(phrases):
            query, used = f'"{phrases[i]}"', 1
        elif shape < 0.7:
            query, used = f'"{phrases[i]}" OR "{phrases[i + 1]}"', 2
        elif shape < 0.85:
            query, used = f'"{phrases[i]}" "{phrases[i + 1]}"', 2
        elif shape < 0.95:
            query, used = f'"{phrases[i]}" -"{phrases[i + 1]}"', 2
        else:
            query, used = f'title:"{phrases[i]}" OR tag:"{phrases[i + 1]}"', 2
        specs.append(TopicSpec(name, query))
        i += used
    return specs


def _language(seed: int) -> tuple[list[str], list[float]]:
    rng = random.Random(seed)
    vocab = _vocabulary(rng, 2500)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(vocab))]
    rng.shuffle(weights)
    return vocab, weights


def build_topics(articles: list[ArticleFields], term_count: int, seed: int = 1) -> list[TopicSpec]:
    """Topics over ``term_count`` distinct terms, half of them n-grams of ``articles``."""
    vocab, weights = _language(seed)
    rng = random.Random(f"{seed}-{term_count}")
    samples = [a.body for a in articles[:50]] + [a.title for a in articles[:200]]
    return _topics(rng, _terms(rng, vocab, weights, term_count, samples))


def build_corpus(term_count: int, article_count: int, seed: int = 1) -> Corpus:
    vocab, weights = _language(seed)
    rng = random.Random(f"{seed}-articles")
    articles = [_article(rng, vocab, weights) for _ in range(max(article_count, 1))]
    return Corpus(articles, build_topics(articles, term_count, seed), term_count)


class NaiveMatcher:
    """One compiled regex per term over the normalised text; every topic evaluated."""

    _BEFORE = r"(?<![^\W_])(?<![\u0300-\u036f])"
    _AFTER = r"(?![^\W_])(?![\u0300-\u036f])"

    def __init__(self, topics: list[TopicSpec]):
        self.topics = [(spec.name, parse_query(spec.query)) for spec in topics]
        self.patterns: dict[str, tuple[re.Pattern[str], bool]] = {}
        for _, tree in self.topics:
            for term in terms(tree):
                exact, folded = term_keys(term.text)
                use_fold = exact == folded
                key = folded if use_fold else exact
                self.patterns[term.text] = (re.compile(self._BEFORE + re.escape(key) + self._AFTER), use_fold)

    def match(self, fields: ArticleFields) -> set[str]:
        units = [(name, normalize(text)) for name, _, text in fields.units()]
        found: dict[str, set[str]] = {}
        for text, (pattern, use_fold) in self.patterns.items():
            for name, norm in units:
                if pattern.search(norm.folded if use_fold else norm.exact):
                    found.setdefault(text, set()).add(name)
        return {name for name, tree in self.topics if self._eval(tree, found)}

    def _eval(self, node, found: dict[str, set[str]]) -> bool:
        if isinstance(node, Term):
            where = found.get(node.text, set())
            return bool(where & {node.scope}) if node.scope else bool(where - {"category"})
        kind = type(node).__name__
        if kind == "Not":
            return not self._eval(node.child, found)
        results = (self._eval(child, found) for child in node.children)
        return all(results) if kind == "And" else any(results)


def _time_engine(matcher: Matcher, articles: list[ArticleFields]) -> tuple[float, int]:
    matched = 0
    start = time.perf_counter()
    for article in articles:
        matched += len(matcher.match(article))
    return (time.perf_counter() - start) / len(articles), matched


def _time_scan(matcher: Matcher, articles: list[ArticleFields]) -> float:
    """Normalise + run the automata + check boundaries, without evaluating topics or building hits."""
    start = time.perf_counter()
    for article in articles:
        matcher._scan(article)
    return (time.perf_counter() - start) / len(articles)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__.split("\n")[0])
    parser.add_argument("--terms", type=int, default=5000)
    parser.add_argument("--articles", type=int, default=10000)
    parser.add_argument(
        "--naive-sample", type=int, default=100, help="articles the naive approach is timed on (default 100)"
    )
    parser.add_argument(
        "--scale", default="500,1000,2000,5000", help="term counts for the flatness series (default 500,1000,2000,5000)"
    )
    parser.add_argument(
        "--scale-articles",
        type=int,
        default=1000,
        help="articles per point of the flatness series, best of 3 runs (default 1000)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    # As timeit does: the cyclic collector walking 10,000 live articles would add noise to both sides.
    gc.disable()

    t0 = time.perf_counter()
    corpus = build_corpus(args.terms, args.articles, args.seed)
    articles = corpus.articles
    chars = sum(len(a.title) + len(a.sapo) + len(a.body) for a in articles) / len(articles)
    print(
        f"generated {len(articles)} articles (avg {chars:.0f} characters), {corpus.term_count} terms in "
        f"{len(corpus.topics)} topics, seed {args.seed} ({time.perf_counter() - t0:.1f} s)"
    )

    t0 = time.perf_counter()
    matcher = Matcher(corpus.topics)
    print(f"engine compiled {matcher.pattern_count} patterns in {time.perf_counter() - t0:.2f} s")

    start = time.perf_counter()
    for article in articles:
        for _, _, text in article.units():
            _ = normalize(text).folded
    normalise_only = (time.perf_counter() - start) / len(articles)

    engine_per_article, matched = _time_engine(matcher, articles)
    print(
        f"engine: {engine_per_article * 1e3:.3f} ms/article over {len(articles)} articles "
        f"({matched} topic matches; normalising alone {normalise_only * 1e3:.3f} ms/article)"
    )

    sample = articles[: max(1, min(args.naive_sample, len(articles)))]
    naive = NaiveMatcher(corpus.topics)
    start = time.perf_counter()
    naive_results = [naive.match(article) for article in sample]
    naive_per_article = (time.perf_counter() - start) / len(sample)
    engine_results = [set(matcher.match(article)) for article in sample]
    agree = sum(a == b for a, b in zip(naive_results, engine_results, strict=True))
    print(
        f"naive (one regex per term): {naive_per_article * 1e3:.3f} ms/article, timed on the first "
        f"{len(sample)} articles"
    )
    print(f"results identical on {agree}/{len(sample)} sampled articles")
    print(f"ratio: engine is {naive_per_article / engine_per_article:.1f}x faster than naive")

    scale_articles = articles[: args.scale_articles]
    print(
        f"engine time per article by term count (best of 3 over {len(scale_articles)} articles; "
        "'scan' = normalise + automata + boundary checks, 'match' adds topic evaluation and hit snippets):"
    )
    for count in (int(part) for part in args.scale.split(",") if part):
        scaled = Matcher(build_topics(articles, count, args.seed))
        runs = [_time_engine(scaled, scale_articles) for _ in range(3)]
        per_article = min(run[0] for run in runs)
        scan = min(_time_scan(scaled, scale_articles) for _ in range(3))
        print(
            f"  {count:>6} terms: scan {scan * 1e3:.3f} ms/article, match {per_article * 1e3:.3f} ms/article "
            f"({runs[0][1] / len(scale_articles):.1f} topics matched per article)"
        )


if __name__ == "__main__":
    main()
