"""Benchmark: story grouping on the labelled set — pairwise precision and recall.

    python -m bench.stories [--labelled PATH] [--batch 7] [--seed 1] [--database-url URL]

Stores every article of the labelled set (``tests/fixtures/stories/labelled.json``:
copies of wire stories lightly edited across outlets, and near-misses that must
stay apart) through the archive's own storage path — ``store_article`` in
batches, in a shuffled arrival order, the story ids set by the session events
as for a crawl — into a throw-away database (SQLite unless ``--database-url``),
then compares the stored stories with the labels. A pair of articles is
"predicted" when they got the same story and "true" when they carry the same
label: precision = right predicted pairs / predicted pairs, recall = right
predicted pairs / true pairs. Every pair it gets wrong is listed with its
similarities. Also prints the time to store an article here and the part of it
spent fingerprinting (shingles and MinHash).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from crawler.items import ExtractedArticle

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "stories" / "labelled.json"


@dataclass(frozen=True)
class Labelled:
    item: ExtractedArticle
    story: str
    note: str
    key: str


@dataclass
class Evaluation:
    articles: int
    labelled_stories: int
    predicted_stories: int
    true_pairs: int
    predicted_pairs: int
    right_pairs: int
    # (first key, second key, "missed" | "wrong")
    mistakes: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def precision(self) -> float:
        return self.right_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.right_pairs / self.true_pairs if self.true_pairs else 1.0


def load_labelled(path: Path = LABELLED) -> list[Labelled]:
    out = []
    for entry in json.loads(path.read_text(encoding="utf-8")):
        external_id = entry["id"]
        item = ExtractedArticle(
            site=entry["site"],
            external_id=external_id,
            url=f"https://{entry['site']}.example/{external_id}.html",
            title=entry["title"],
            sapo=entry["sapo"],
            body=entry["body"],
            published_at=datetime.fromisoformat(entry["published_at"]).astimezone(UTC),
        )
        out.append(Labelled(item, entry["story"], entry["note"], external_id))
    return out


def store_all(database, labelled: list[Labelled], *, batch: int, seed: int, now: datetime) -> float:
    """Store the articles in a shuffled order, ``batch`` to a transaction, as the crawl's pipeline does.

    Returns the seconds it took (the libraries are loaded before the clock starts, as in a crawl).
    """
    import rapidfuzz  # noqa: F401
    import rensa  # noqa: F401

    from crawler.store.articles import load_articles, store_article

    order = list(labelled)
    random.Random(seed).shuffle(order)
    started = time.perf_counter()
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        with database.session() as session:
            stored = {}
            for site in {entry.item.site for entry in chunk}:
                ids = [entry.item.external_id for entry in chunk if entry.item.site == site]
                stored.update({(site, key): row for key, row in load_articles(session, site, ids).items()})
            for entry in chunk:
                store_article(
                    session, entry.item, now=now, existing=stored.get((entry.item.site, entry.item.external_id))
                )
    return time.perf_counter() - started


def evaluate(database, labelled: list[Labelled], *, batch: int = 7, seed: int = 1) -> Evaluation:
    """Store the labelled set into an empty archive and compare its stories with the labels."""
    from sqlalchemy import select

    from crawler.store.models import ArticleRow

    now = datetime(2026, 4, 1, tzinfo=UTC)
    seconds = store_all(database, labelled, batch=batch, seed=seed, now=now)
    with database.session(write=False) as session:
        stored = dict(session.execute(select(ArticleRow.external_id, ArticleRow.story_id)).all())
    truth = {entry.key: entry.story for entry in labelled}
    result = Evaluation(len(labelled), len(set(truth.values())), len(set(stored.values())), 0, 0, 0, seconds=seconds)
    for first, second in itertools.combinations(sorted(truth), 2):
        same_label = truth[first] == truth[second]
        same_story = stored[first] == stored[second]
        result.true_pairs += same_label
        result.predicted_pairs += same_story
        result.right_pairs += same_label and same_story
        if same_label != same_story:
            result.mistakes.append((first, second, "missed" if same_label else "wrong"))
    return result


def _similarities(labelled: list[Labelled], first: str, second: str) -> str:
    from crawler.stories import body_similarities, fingerprint, title_similarity

    by_key = {entry.key: entry.item for entry in labelled}
    a, b = (fingerprint(by_key[key].title, by_key[key].sapo, by_key[key].body) for key in (first, second))
    body = float(body_similarities(a.signature[None, :], b.signature)[0])
    return f"body {body:.2f}, headline {title_similarity(a.title, b.title):.2f}"


def fingerprint_seconds(labelled: list[Labelled], repeats: int = 20) -> float:
    """Seconds to fingerprint one article (the shingling and MinHash every stored article costs)."""
    from crawler.stories import fingerprint

    started = time.perf_counter()
    for _ in range(repeats):
        for entry in labelled:
            fingerprint(entry.item.title, entry.item.sapo, entry.item.body + str(_))
    return (time.perf_counter() - started) / (repeats * len(labelled))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labelled", type=Path, default=LABELLED)
    parser.add_argument("--batch", type=int, default=7, help="articles per transaction")
    parser.add_argument("--seed", type=int, default=1, help="the arrival order's shuffle")
    parser.add_argument("--database-url", help="an empty database (default: a throw-away SQLite file)")
    args = parser.parse_args(argv)

    from crawler.store import Database

    labelled = load_labelled(args.labelled)
    with tempfile.TemporaryDirectory() as folder:
        database = Database(args.database_url or f"sqlite:///{folder}/stories.sqlite3")
        try:
            from sqlalchemy import func, select

            from crawler.store.models import ArticleRow

            with database.session(write=False) as session:
                if session.scalar(select(func.count()).select_from(ArticleRow)):
                    raise SystemExit(f"{database.describe()} already holds articles: give an empty database")
            result = evaluate(database, labelled, batch=args.batch, seed=args.seed)
        finally:
            database.dispose()
    print(
        f"labelled set: {result.articles} articles, {result.labelled_stories} stories "
        f"({result.true_pairs} same-story pairs); grouped into {result.predicted_stories} stories"
    )
    print(
        f"precision {result.precision:.3f} ({result.right_pairs}/{result.predicted_pairs} predicted pairs right), "
        f"recall {result.recall:.3f} ({result.right_pairs}/{result.true_pairs} same-story pairs found)"
    )
    for first, second, kind in result.mistakes:
        print(f"  {kind}: {first} / {second} ({_similarities(labelled, first, second)})")
    print(
        f"storing: {1000 * result.seconds / result.articles:.2f} ms/article (batches of {args.batch}), of which "
        f"fingerprinting {1000 * fingerprint_seconds(labelled):.2f} ms"
    )


if __name__ == "__main__":
    main()
