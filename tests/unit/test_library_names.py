"""Reading ABS's joined name strings with the library's own names, and the mirror's description.

Plain table tests of ``abook.library`` (no I/O): the joined strings are ABS's
(``server/models/Book.js``: authors and narrators joined with ", ", each series "name #sequence",
"name" alone without a sequence, joined with ", ").
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from abook.clients.audiobookshelf import Audiobookshelf
from abook.library import (
    AbsAuthor,
    AbsFilterData,
    AbsItem,
    AbsPerson,
    AbsSeries,
    LibraryNames,
    book_row,
    plain_text,
    split_known,
    split_series_known,
)
from abook.workflows.scan import lists_pay_off, read_lists

AUTHORS = frozenset({
    "Martin Luther King, Jr.", "Coretta Scott King", "Terry Pratchett", "Neil Gaiman",
    "Brandon Sanderson", "A", "B", "A, B", "Smith, John",
})


@pytest.mark.parametrize(("text", "want"), [
    ("Terry Pratchett", ("Terry Pratchett",)),
    ("Terry Pratchett, Neil Gaiman", ("Terry Pratchett", "Neil Gaiman")),
    ("Martin Luther King, Jr.", ("Martin Luther King, Jr.",)),
    ("Martin Luther King, Jr., Coretta Scott King", ("Martin Luther King, Jr.", "Coretta Scott King")),
    ("Coretta Scott King, Martin Luther King, Jr.", ("Coretta Scott King", "Martin Luther King, Jr.")),
    ("Neil Gaiman, Smith, John, Terry Pratchett", ("Neil Gaiman", "Smith, John", "Terry Pratchett")),
    ("A, B", None),  # "A" + "B" or the one author "A, B": unknowable from the string
    ("A, B, Neil Gaiman", None),
    ("A, Neil Gaiman", ("A", "Neil Gaiman")),
    ("Unknown Person", None),
    ("Terry Pratchett, Unknown Person", None),
    ("Martin Luther King", None),  # only the whole name is known
])
def test_split_known(text, want):
    assert split_known(text, AUTHORS) == want


SERIES = frozenset({
    "Mistborn", "The Cosmere", "Kitchen #5", "Kitchen", "Lord, Liar", "Lord", "Discworld",
    "Red Rising", "Wax and Wayne",
})


@pytest.mark.parametrize(("text", "want"), [
    ("", ()),
    ("Mistborn", (("Mistborn", None),)),
    ("Mistborn #1", (("Mistborn", "1"),)),
    ("Mistborn #1, The Cosmere", (("Mistborn", "1"), ("The Cosmere", None))),
    ("The Cosmere, Mistborn #0.5", (("The Cosmere", None), ("Mistborn", "0.5"))),
    ("Red Rising #2.5, Discworld #0", (("Red Rising", "2.5"), ("Discworld", "0"))),
    ("Kitchen #5", None),  # "Kitchen #5" alone, or "Kitchen" number 5: both are known
    ("Kitchen #5 #2", None),  # "Kitchen #5" number 2, or "Kitchen" number "5 #2"
    ("Mistborn #1, Kitchen #5 #2", None),
    ("Lord, Liar #3", (("Lord, Liar", "3"),)),  # "Liar" is unknown: the one reading
    ("Lord, Liar #3, Mistborn", (("Lord, Liar", "3"), ("Mistborn", None))),
    ("Wax and Wayne #1, 2, Mistborn #4", None),  # a sequence "1, 2" is not read: asked in full
    ("Unknown #1", None),
    ("Mistborn #1, Unknown", None),
    ("Mistborn #", None),  # ABS never writes an empty sequence
])
def test_split_series_known(text, want):
    assert split_series_known(text, SERIES) == want


def test_a_hash_in_a_series_name():
    known = frozenset({"Kitchen #5", "Mistborn"})
    assert split_series_known("Kitchen #5 #2", known) == (("Kitchen #5", "2"),)
    assert split_series_known("Kitchen #5, Mistborn #1", known) == (("Kitchen #5", None), ("Mistborn", "1"))
    assert split_series_known("Mistborn #1 #2", known) == (("Mistborn", "1 #2"),)


def test_a_series_name_that_is_also_two_known_series_is_ambiguous():
    known = frozenset({"Lord", "Liar", "Lord, Liar"})
    assert split_series_known("Lord, Liar", known) is None
    assert split_series_known("Lord #1, Liar #2", known) == (("Lord", "1"), ("Liar", "2"))


def names(loaded_at: int | None = 1_000) -> LibraryNames:
    authors = [AbsAuthor("a-mlk", "Martin Luther King, Jr."), AbsAuthor("a-csk", "Coretta Scott King"),
               AbsAuthor("a-bs", "Brandon Sanderson"), AbsAuthor("a-x", "X"), AbsAuthor("a-y", "Y"),
               AbsAuthor("a-xy", "X, Y"), AbsAuthor("a-d1", "Dup"), AbsAuthor("a-d2", "Dup")]
    data = AbsFilterData(
        authors=(AbsPerson("stale-id", "Brandon Sanderson"),),  # the authors list wins
        series=(AbsSeries("s-m", "Mistborn"), AbsSeries("s-c", "The Cosmere"), AbsSeries("s-k", "Kitchen #5")),
        narrators=("Michael Kramer", "Kate Reading", "Full Cast, The"),
        loaded_at=loaded_at,
    )
    return LibraryNames(authors, data)


def item(**kw) -> AbsItem:
    return AbsItem(id="li-1", updated_at=500, **kw)


def test_resolve_reads_people_and_series_with_their_ids():
    got = names().resolve(item(author_name="Martin Luther King, Jr., Coretta Scott King",
                               narrator_name="Michael Kramer, Kate Reading",
                               series_name="Mistborn #0, Kitchen #5 #2.5, The Cosmere"))
    assert got is not None
    assert got.authors == (AbsPerson("a-mlk", "Martin Luther King, Jr."), AbsPerson("a-csk", "Coretta Scott King"))
    assert got.narrators == ("Michael Kramer", "Kate Reading")
    assert got.series == (AbsSeries("s-m", "Mistborn", "0"), AbsSeries("s-k", "Kitchen #5", "2.5"),
                          AbsSeries("s-c", "The Cosmere", None))
    empty = names().resolve(item(author_name="", narrator_name="", series_name=""))
    assert empty is not None and (empty.authors, empty.narrators, empty.series) == ((), (), ())


@pytest.mark.parametrize("fields", [
    {"author_name": "X, Y"},  # X and Y, or the author "X, Y"
    {"author_name": "Somebody New"},  # no id for them
    {"author_name": "Dup"},  # two authors share the name
    {"author_name": "X", "series_name": "Unknown Saga #1"},
    {"author_name": "X", "narrator_name": "Full Cast, The, Kate Reading, Nobody"},
])
def test_resolve_refuses_what_it_cannot_know(fields):
    assert names().resolve(item(**fields)) is None


def test_a_narrator_without_a_comma_needs_no_list():
    got = names().resolve(item(author_name="X", narrator_name="Someone Not In The Lists"))
    assert got is not None and got.narrators == ("Someone Not In The Lists",)
    got = names().resolve(item(author_name="X", narrator_name="Full Cast, The"))
    assert got is not None and got.narrators == ("Full Cast, The",)


def test_an_item_changed_after_the_lists_were_built_keeps_only_what_cannot_be_stale():
    recent = dict(author_name="Brandon Sanderson", updated_at=1_000)
    ok = names(loaded_at=1_000).resolve(AbsItem(id="li-2", narrator_name="Kate Reading", **recent))
    assert ok is not None and ok.authors == (AbsPerson("a-bs", "Brandon Sanderson"),)
    # its series might be one made after the lists (or made again under a new id) ...
    assert names(loaded_at=1_000).resolve(AbsItem(id="li-2", series_name="Mistborn #1", **recent)) is None
    # ... and "A, B" might be one new narrator, or one new author
    assert names(loaded_at=1_000).resolve(
        AbsItem(id="li-2", narrator_name="Michael Kramer, Kate Reading", **recent)) is None
    assert names(loaded_at=1_000).resolve(
        AbsItem(id="li-2", author_name="Martin Luther King, Jr., Coretta Scott King", updated_at=1_000)) is None
    # without a loadedAt every item counts as recent
    assert names(loaded_at=None).resolve(item(author_name="X", series_name="Mistborn #1")) is None


def test_minified_and_expanded_records_give_the_same_row():
    minified = AbsItem(
        id="li-3", library_id="lib", title="Strength to Love", author_name="Martin Luther King, Jr., X",
        narrator_name="", series_name="Mistborn #1, The Cosmere", genres=("History",),
        description="<p>Sermons &amp; <b>speeches</b>.</p>", updated_at=10, cover_path="/c.jpg",
    )
    expanded = AbsItem(
        id="li-3", library_id="lib", title="Strength to Love", author_name="Martin Luther King, Jr., X",
        narrator_name="", series_name="Mistborn #1, The Cosmere", genres=("History",),
        description="<p>Sermons &amp; <b>speeches</b>.</p>", updated_at=10, cover_path="/c.jpg",
        authors=(AbsPerson("a-mlk", "Martin Luther King, Jr."), AbsPerson("a-x", "X")), narrators=(),
        series=(AbsSeries("s-m", "Mistborn", "1"), AbsSeries("s-c", "The Cosmere", None)),
    )
    resolved = names().resolve(minified)
    assert resolved is not None
    assert book_row(resolved) == book_row(expanded)
    assert book_row(expanded)["description"] == "Sermons & speeches."


# What ABS 2.36 itself makes of these (server/utils/htmlSanitizer.js stripAllTags, run under node
# on the real server's code): its descriptionPlain, which the mirror has always stored.
ABS_DESCRIPTION_PLAIN = [
    ("<p>A lone <b>astronaut</b>.</p><p>Second &amp; third.</p>", "A lone astronaut.Second & third."),
    ("Plain text, no tags", "Plain text, no tags"),
    ("Tom &amp; Jerry &lt;3 &gt; &quot;x&quot; &#39;y&#39; &nbsp;z &copy; &hellip;",
     "Tom & Jerry <3 > \"x\" 'y' \xa0z © …"),
    ("a < b and c > d", "a < b and c > d"),
    ("x<br>y<br/>z<hr />", "xyz"),
    ("<script>alert(1)</script>kept<style>p{}</style> text", "kept text"),
    ("<!-- comment -->after", "after"),
    ('<a href="http://e.org/?a=1&b=2" title="x>y">link</a>', "link"),
    ("<p>Unclosed <i>italic", "Unclosed italic"),
    ("&amp;amp; &amp;lt;b&amp;gt;", "&amp; &lt;b&gt;"),
    ("Fish &chips; & more &unknown; &#x41; &#65", "Fish &chips; & more &unknown; A A"),
    ("<textarea>gone</textarea>stay<option>also gone</option>", "stay"),
    ("<ul><li>One</li><li>Two</li></ul>", "OneTwo"),
    ("5 <3 stars", "5 <3 stars"),
    ("<div><![CDATA[x]]></div>y", "y"),
    ("line1\n<p>line2</p>\n", "line1\nline2\n"),
    ("<P CLASS='x'>Upper</P>", "Upper"),
    ("<script>never closed", ""),
    ("caf&eacute; na&iuml;ve", "café naïve"),
    ("&Amp; &AMP; &lt &gt", "&Amp; & < >"),
    ("<p>a</p >b", "ab"),
    ("< p>notatag</p>", "< p>notatag"),
    ("<?xml version='1.0'?>doc", "doc"),
    ("<!DOCTYPE html><html><body>Body</body></html>", "Body"),
    ("a<b c='>'>d", "ad"),
    ("emoji 🎧 &#128512;", "emoji 🎧 😀"),
]


@pytest.mark.parametrize(("raw", "abs_plain"), ABS_DESCRIPTION_PLAIN)
def test_plain_text_is_abs_description_plain(raw, abs_plain):
    assert plain_text(raw) == abs_plain


def test_plain_text_keeps_none():
    assert plain_text(None) is None and plain_text("") == ""


@pytest.mark.parametrize(("items", "library", "worth"), [
    (0, 50_000, False),
    (1, 50_000, False),  # one batch/get (~0.75 s) beats building filterdata (~3.2 s)
    (500, 50_000, False),
    (3_000, 50_000, True),
    (50_000, 50_000, True),  # a first scan
    (5, 100, True),  # a small library: its filterdata is cheaper than any expanded item
])
def test_lists_pay_off(items, library, worth):
    assert lists_pay_off(items, library, batch_size=1000) is worth


# ---------------------------------------------------------------- the client's filterdata record
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "audiobookshelf"


def client_answering(routes: dict[str, httpx.Response]) -> Audiobookshelf:
    def handler(request: httpx.Request) -> httpx.Response:
        return routes.get(request.url.path, httpx.Response(404, text="Not Found"))

    return Audiobookshelf("http://127.0.0.1:9", "k" * 20, retries=1, transport=httpx.MockTransport(handler))


def test_filter_data_reads_the_recorded_answer_of_a_real_abs():
    body = json.loads((FIXTURES / "filterdata.json").read_text())
    with client_answering({"/api/libraries/lib/filterdata": httpx.Response(200, json=body)}) as client:
        got = client.filter_data("lib")
    assert len(got.authors) == len(body["authors"]) and got.authors[0] == AbsPerson(**body["authors"][0])
    assert {s.name for s in got.series} >= {"Kitchen #5", "Lords, Liars and Thieves", "Mistborn"}
    assert "Full Cast, The" in got.narrators and got.loaded_at == body["loadedAt"]


def test_an_abs_without_filterdata_reads_series_in_full():
    authors = {"authors": [{"id": "a1", "name": "Andy Weir", "asin": None, "numBooks": 1}]}
    with client_answering({"/api/libraries/lib/authors": httpx.Response(200, json=authors)}) as client:
        names, listed = read_lists(client, "lib")
    assert [a.name for a in listed] == ["Andy Weir"]
    got = names.resolve(AbsItem(id="i", author_name="Andy Weir", updated_at=5))
    assert got is not None and got.authors == (AbsPerson("a1", "Andy Weir"),)
    assert names.resolve(AbsItem(id="i", author_name="Andy Weir", series_name="Hail Mary #1", updated_at=5)) is None


def test_batch_get_decodes_item_by_item_and_refuses_broken_answers():
    from abook.errors import BadResponse

    expanded = json.loads((FIXTURES / "item-expanded.json").read_text())
    body = json.dumps({"libraryItems": [expanded, {**expanded, "id": "second"}]}, indent=1).encode()
    with client_answering({"/api/items/batch/get": httpx.Response(200, content=body)}) as client:
        items = client.batch_get(["x", "second"])
    assert [i.id for i in items] == [expanded["id"], "second"]
    assert items[0].authors and items[0].authors[0].name == expanded["media"]["metadata"]["authors"][0]["name"]
    for broken, needle in ((body[: len(body) // 2], "malformed JSON"), (body[:-2], "malformed JSON"),
                           (b"<!DOCTYPE html><html></html>", "HTML page")):
        with client_answering({"/api/items/batch/get": httpx.Response(200, content=broken)}) as client, \
                pytest.raises(BadResponse, match=needle):
            client.batch_get(["x"])
    with client_answering({"/api/items/batch/get": httpx.Response(200, json={"libraryItems": []})}) as client:
        assert client.batch_get(["gone"]) == []
