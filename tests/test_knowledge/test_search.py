"""Search quality: Chinese without word spaces, English words, codes, and ranking by proven success."""

import pytest

from fieldservice.knowledge import operations as ops
from fieldservice.knowledge.terms import index_terms, query_terms, stem

from .conftest import cause


def first(q, **kw):
    hits = ops.search(q, **kw)
    return hits[0].symptom if hits else None


# --- terms
# ----------------------------------------------------------------------------------------------------


def test_chinese_text_gives_bigrams_and_latin_gives_stemmed_words():
    terms = index_terms("机器底部漏水 Leaking pumps")
    assert {"机器", "器底", "底部", "部漏", "漏水"} <= set(terms)
    assert {"leak", "pump"} <= set(terms)
    assert "机" not in terms  # unigrams only where asked
    assert "机" in index_terms("机器", unigrams=True)


def test_codes_with_separators_also_index_their_joined_form():
    assert {"e", "05", "e05"} <= set(index_terms("显示 E-05"))
    assert query_terms("e-05").exact == ["e05"]
    # Full-width characters fold to half-width.
    assert "e05" in index_terms("显示Ｅ０５")


@pytest.mark.parametrize(
    "word, expected",
    [
        ("leaking", "leak"),
        ("leaks", "leak"),
        ("leaked", "leak"),
        ("running", "run"),
        ("batteries", "battery"),
        ("freezing", "freez"),
        ("freeze", "freez"),
        ("noises", "nois"),
        ("noise", "nois"),
        ("press", "press"),
    ],
)
def test_stemmer_meets_common_english_forms(word, expected):
    assert stem(word) == expected


# --- Chinese
# ----------------------------------------------------------------------------------------------------


def test_partial_chinese_phrase_finds_the_entry(make_entry):
    make_entry("机器底部漏水")
    make_entry("出水量明显变小，制水很慢")
    assert [h.symptom for h in ops.search("漏水")] == ["机器底部漏水"]
    assert first("底部漏") == "机器底部漏水"
    assert ops.search("火箭发动机") == []


def test_a_single_character_query_matches_symptoms(make_entry):
    make_entry("机器底部漏水")
    make_entry("显示屏不亮")
    assert [h.symptom for h in ops.search("漏")] == ["机器底部漏水"]


def test_words_in_causes_and_solutions_are_found_but_rank_below_the_symptom(make_entry):
    in_solution = make_entry("设备异响", causes=[cause("风扇松动", ("紧固风扇", ["检查漏水痕迹"]))])
    in_symptom = make_entry("设备漏水")
    hits = ops.search("漏水")
    assert [h.id for h in hits] == [in_symptom.id, in_solution.id]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("机器底部漏水", "净水器机器底部漏水"),
        ("吊顶滴水", "室内机漏水，吊顶有水渍，地面有积水"),
        ("不制冷 吹常温风", "空调开机后不制冷，出风口吹常温风，显示 E1 高压保护"),
        ("卡纸", "纸盒进纸频繁卡纸，显示 J-12"),
        ("E30", "电梯停在两层之间，显示 E30 平层故障"),
        ("电梯困在两层中间", "电梯停在两层之间，显示 E30 平层故障"),
        ("sc-542", "复印机显示 SC542，定影温度异常"),
        ("扶手带速度", "自动扶梯扶手带与梯级速度不同步"),
        ("冷藏箱温度高报警", "医用冷藏箱温度过高报警，箱内超过 8 度"),
        ("出水量小", "出水量明显变小，制水很慢"),
        ("开水器不加热", "开水器不加热，显示 E2 干烧保护"),
        ("门关不上", "电梯门关不上，反复开关门"),
        ("复印件有黑线条纹", "复印件出现黑色竖条纹"),
        ("吸样针", "生化分析仪吸样针报警，加样量不准"),
    ],
)
def test_chinese_queries_find_the_right_demo_entry_first(demo_base, q, expected):
    assert first(q) == expected


def test_product_scope_keeps_its_own_and_its_category_entries(demo_base, db):
    import sqlalchemy as sa

    from fieldservice.customers.models import Product

    ro = db.session.scalar(sa.select(Product).where(Product.model == "RO-800G"))
    hits = ops.search("漏水", product_id=ro.id, limit=50)
    assert hits and all(h.category == "water_purifier" for h in hits)
    assert hits[0].symptom == "净水器机器底部漏水"
    # The air conditioner's leak entry is out of this product's scope.
    assert "室内机漏水，吊顶有水渍，地面有积水" not in [h.symptom for h in hits]


def test_an_entry_for_the_product_beats_the_same_text_for_its_category(make_entry, make_product):
    product = make_product(category="water_purifier")
    general = make_entry("机器底部漏水")
    own = make_entry("机器底部漏水", product_id=product.id)
    assert [h.id for h in ops.search("漏水", product_id=product.id)] == [own.id, general.id]


# --- English
# ------------------------------------------------------------------------------------------------------


@pytest.fixture
def english_base(make_entry):
    return [
        make_entry(
            "Water leaking from the bottom of the unit",
            causes=[cause("Worn seal on the inlet valve", "Replace the inlet valve seal")],
        ),
        make_entry(
            "Unit does not cool, fan runs",
            category="air_conditioner",
            causes=[cause("Compressor start capacitor failed", "Replace the start capacitor")],
        ),
        make_entry(
            "Paper jams in tray 2",
            category="printer",
            causes=[cause("Pick-up roller worn", "Replace the pick-up roller kit")],
        ),
        make_entry(
            "Display shows error E5 after power on",
            category="air_conditioner",
            causes=[cause("Outdoor sensor open circuit", "Replace the outdoor temperature sensor")],
        ),
    ]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("leak", "Water leaking from the bottom of the unit"),
        ("water leaks under the machine", "Water leaking from the bottom of the unit"),
        ("not cooling", "Unit does not cool, fan runs"),
        ("compres", "Unit does not cool, fan runs"),  # a word being typed
        ("paper jammed", "Paper jams in tray 2"),
        ("E5", "Display shows error E5 after power on"),
        ("capacitor", "Unit does not cool, fan runs"),
    ],
)
def test_english_queries_find_the_right_entry_first(english_base, q, expected):
    assert first(q) == expected


def test_mixed_language_query(english_base, make_entry):
    make_entry("显示 E5，外机不启动", category="air_conditioner")
    assert {h.symptom for h in ops.search("E5 外机")[:1]} == {"显示 E5，外机不启动"}


# --- ranking and visibility
# -------------------------------------------------------------------------------------


def test_ranking_prefers_the_proven_solution(db, make_entry):
    untried = make_entry("净水器底部漏水")
    proven = make_entry("净水器底部漏水")
    failing = make_entry("净水器底部漏水")
    assert [h.id for h in ops.search("漏水")] == [untried.id, proven.id, failing.id]  # equal text: by id
    for _ in range(6):
        ops.record_use(proven.id, solved=True)
        ops.record_use(failing.id, solved=False)
    db.session.commit()
    assert [h.id for h in ops.search("漏水")] == [proven.id, untried.id, failing.id]


def test_a_better_text_match_still_beats_a_little_proof(db, make_entry):
    exact = make_entry("电梯门关不上")
    loose = make_entry("电梯运行有异响，门偶尔关不严", causes=[cause("门机皮带松", "调整门机皮带")])
    ops.record_use(loose.id, solved=True)
    db.session.commit()
    assert ops.search("电梯门关不上")[0].id == exact.id


def test_drafts_and_archived_entries_are_not_found_by_default(db, make_entry, manager):
    published = make_entry("机器底部漏水")
    draft = make_entry("机器顶部漏水", status="draft")
    archived = make_entry("机器侧面漏水")
    ops.change_status(archived, "archive", manager, archived.version)
    db.session.commit()
    assert [h.id for h in ops.search("漏水")] == [published.id]
    every = {h.id for h in ops.search("漏水", statuses=ops.STATUSES)}
    assert every == {published.id, draft.id, archived.id}


def test_an_edit_reindexes_the_entry(db, make_entry, manager):
    entry = make_entry("机器底部漏水")
    ops.update_entry(entry, {"version": entry.version, "symptom": "显示屏不亮"}, manager)
    db.session.commit()
    assert ops.search("漏水") == []
    assert first("显示屏") == "显示屏不亮"


def test_long_queries_need_only_part_of_their_terms(make_entry):
    make_entry("机器底部漏水")
    # A caller's whole sentence: most of its bigrams are nowhere in the entry.
    assert first("客户说今天早上发现机器底部漏水了，地上湿了一片") == "机器底部漏水"
