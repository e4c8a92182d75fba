"""The one search strategy (workflows.lookup.run_plan) and `abook search` walking it."""

from __future__ import annotations

import pytest

from abook.acquisition import Policy
from abook.errors import AuthError, ServiceError
from abook.models import Release
from abook.queries import Query, plan
from abook.search import Acquisition
from abook.state import State
from abook.workflows import lookup
from abook.workflows.lookup import Budget, run_plan
from tests.unit.test_gaps import WordSearch, rel


class Scripted:
    """A search answering each text from a script (a list of releases, or an exception)."""

    name = "mam"

    def __init__(self, answers: dict[str, object]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def find(self, title: str, author: str = "") -> list[Release]:
        text = f"{title} {author}".strip()
        self.asked.append(text)
        answer = self.answers.get(text, [])
        if isinstance(answer, Exception):
            raise answer
        return list(answer)  # type: ignore[arg-type]


QUERIES = [Query("A"), Query("B"), Query("C")]


def test_run_plan_stops_at_the_first_query_that_settles_it():
    search = Scripted({"A": [rel("1", "Other")], "B": [rel("1", "Other"), rel("2", "Wanted")], "C": [rel("3", "X")]})
    ran = run_plan(search, QUERIES, accept=lambda found: any(r.title == "Wanted" for r in found))
    assert ran.accepted and search.asked == ["A", "B"] and ran.sent == ["A", "B"]
    assert [r.torrent_id for r in ran.releases] == ["1", "2"]  # each release once


def test_run_plan_walks_everything_when_nothing_settles_it():
    search = Scripted({})
    ran = run_plan(search, QUERIES, accept=lambda found: True)
    assert not ran.accepted and search.asked == ["A", "B", "C"] and not ran.releases


def test_the_budget_cuts_a_plan_short():
    budget = Budget(2)
    ran = run_plan(Scripted({}), QUERIES, accept=lambda found: False, budget=budget)
    assert ran.cut_short and ran.sent == ["A", "B"] and budget.left == 0 and budget.used == 2


def test_a_failed_query_ends_the_walk_and_a_refused_session_ends_the_run():
    failing = Scripted({"B": ServiceError("MAM answered 500", service="MAM", status=500)})
    ran = run_plan(failing, QUERIES, accept=lambda found: False)
    assert ran.error is not None and ran.failed_query == QUERIES[1] and ran.sent == ["A"]
    with pytest.raises(AuthError):
        run_plan(Scripted({"A": AuthError("MAM refused the session")}), QUERIES, accept=lambda found: False)


@pytest.fixture
def state():
    st = State.open(None)
    yield st
    st.close()


def test_abook_search_follows_the_same_plan(state):
    search = WordSearch([rel("201", "Kings Gambit"), rel("202", "Queens Gambit")])
    result = lookup.run(state, Acquisition(search, None, Policy()), query="King's Gambit", author="Jane Author")
    assert [h.release.torrent_id for h in result.hits] == ["201"]
    assert result.queries == [q.sent for q in plan("King's Gambit", ("Jane Author",))][:3]
    assert result.queries[0] == "King's Gambit Author" and result.counts()["queries"] == 3


def test_abook_search_stops_at_once_when_the_first_query_finds_the_book(state):
    search = WordSearch([rel("1", "The Hobbit", authors=("J. R. R. Tolkien",))])
    result = lookup.run(state, Acquisition(search, None, Policy()), query="The Hobbit")
    assert result.queries == ["The Hobbit"] and [h.verdict for h in result.hits] == ["new"]
