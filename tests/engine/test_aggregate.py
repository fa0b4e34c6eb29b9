"""The aggregation pipeline behind transform.query and io.weighted_keywords'
`pipeline`: Mongo's meaning for the common stages, a clear error for the rest."""

from __future__ import annotations

import copy

import pytest

from engine.modules.aggregate import QueryError, aggregate, check_pipeline

SCENES = [
    {"title": "Snow day", "scene_keywords": [{"keyword": "snow", "category": "setting", "weight": 80},
                                             {"keyword": "window", "category": "object", "weight": 40}]},
    {"title": "Garden nap", "scene_keywords": [{"keyword": "sun", "category": "setting", "weight": 60}]},
    {"title": "Empty", "scene_keywords": []},
]


def test_the_reference_keyword_flattening() -> None:
    before = copy.deepcopy(SCENES)
    result = aggregate(SCENES, [
        {"$unwind": "$scene_keywords"},
        {"$replaceRoot": {"newRoot": "$scene_keywords"}},
        {"$addFields": {"source": "generated"}},
    ])
    assert result == [
        {"keyword": "snow", "category": "setting", "weight": 80, "source": "generated"},
        {"keyword": "window", "category": "object", "weight": 40, "source": "generated"},
        {"keyword": "sun", "category": "setting", "weight": 60, "source": "generated"},
    ]
    assert SCENES == before  # the input is never changed


def test_one_object_counts_as_a_list_of_one_and_paths_are_dotted() -> None:
    result = aggregate({"scene": SCENES[1]}, [
        {"$unwind": "$scene.scene_keywords"},
        {"$replaceRoot": {"newRoot": {"$mergeObjects": ["$scene.scene_keywords", {"source": "selected"}]}}},
    ])
    assert result == [{"keyword": "sun", "category": "setting", "weight": 60, "source": "selected"}]
    assert aggregate(None, [{"$limit": 3}]) == []


def test_match_sort_limit_as_a_keyword_load_uses_them() -> None:
    rows = [{"keyword": k, "weight": w, "source": s} for k, w, s in
            [("snow", 80, "selected"), ("sun", 60, "generated"), ("rain", 95, "selected"), ("moss", 10, "selected")]]
    result = aggregate(rows, [{"$match": {"source": "selected", "weight": {"$gte": 20}}},
                              {"$sort": {"weight": -1}}, {"$limit": 2}])
    assert [r["keyword"] for r in result] == ["rain", "snow"]
    assert [r["keyword"] for r in aggregate(rows, [{"$match": {"$or": [{"keyword": "sun"}, {"weight": {"$lt": 20}}]}}])] \
        == ["sun", "moss"]
    assert [r["keyword"] for r in aggregate(rows, [{"$match": {"keyword": {"$in": ["moss", "x"]}}}])] == ["moss"]
    assert [r["keyword"] for r in aggregate(rows, [{"$match": {"source": {"$ne": "selected"}}}])] == ["sun"]
    assert [r["keyword"] for r in aggregate(rows, [{"$sort": {"source": 1, "weight": 1}}])] \
        == ["sun", "moss", "snow", "rain"]
    assert [r["keyword"] for r in aggregate(rows, [{"$sort": {"weight": 1}}, {"$skip": 1}, {"$limit": 2}])] \
        == ["sun", "snow"]


def test_match_on_arrays_missing_fields_and_exists() -> None:
    assert [s["title"] for s in aggregate(SCENES, [{"$match": {"scene_keywords.keyword": "window"}}])] == ["Snow day"]
    assert [s["title"] for s in aggregate(SCENES, [{"$match": {"scene_keywords": {"$size": 0}}}])] == ["Empty"]
    docs = [{"a": 1}, {"a": None}, {}]
    assert aggregate(docs, [{"$match": {"a": None}}]) == [{"a": None}, {}]
    assert aggregate(docs, [{"$match": {"a": {"$exists": False}}}]) == [{}]
    assert aggregate([{"n": 5}, {"n": "7"}], [{"$match": {"n": {"$gt": 1}}}]) == [{"n": 5}]  # no cross-type compare


def test_project_includes_excludes_and_computes() -> None:
    doc = [{"_id": 1, "keyword": "snow", "weight": 80, "meta": {"by": "llm", "at": 3}}]
    assert aggregate(doc, [{"$project": {"keyword": 1, "meta.by": 1}}]) == [
        {"_id": 1, "keyword": "snow", "meta": {"by": "llm"}}]
    assert aggregate(doc, [{"$project": {"_id": 0, "weight": 0, "meta.at": 0}}]) == [
        {"keyword": "snow", "meta": {"by": "llm"}}]
    assert aggregate(doc, [{"$project": {"_id": 0, "label": {"$concat": ["$keyword", ":", {"$toString": "$weight"}]},
                                         "double": {"$multiply": ["$weight", 2]}}}]) == [
        {"label": "snow:80", "double": 160}]
    with pytest.raises(QueryError, match="cannot mix"):
        aggregate(doc, [{"$project": {"keyword": 1, "weight": 0}}])


def test_unwind_options() -> None:
    docs = [{"k": ["a", "b"]}, {"k": []}, {"k": None}, {"x": 1}, {"k": "solo"}]
    assert aggregate(docs, [{"$unwind": "$k"}]) == [{"k": "a"}, {"k": "b"}, {"k": "solo"}]
    assert aggregate(docs, [{"$unwind": {"path": "$k", "includeArrayIndex": "i",
                                         "preserveNullAndEmptyArrays": True}}]) == [
        {"k": "a", "i": 0}, {"k": "b", "i": 1}, {"k": [], "i": None}, {"k": None, "i": None}, {"x": 1, "i": None},
        {"k": "solo", "i": None}]


def test_group_with_push_sum_and_friends() -> None:
    rows = [{"cat": "setting", "k": "snow", "w": 80}, {"cat": "object", "k": "window", "w": 40},
            {"cat": "setting", "k": "sun", "w": 60}, {"cat": "setting", "k": "snow", "w": 1}]
    result = aggregate(rows, [{"$group": {"_id": "$cat", "keywords": {"$push": "$k"}, "total": {"$sum": "$w"},
                                          "n": {"$sum": 1}, "unique": {"$addToSet": "$k"}, "top": {"$max": "$w"},
                                          "low": {"$min": "$w"}, "mean": {"$avg": "$w"}, "first": {"$first": "$k"},
                                          "last": {"$last": "$k"}, "count": {"$count": {}}}},
                              {"$sort": {"_id": 1}}])
    assert result == [
        {"_id": "object", "keywords": ["window"], "total": 40, "n": 1, "unique": ["window"], "top": 40, "low": 40,
         "mean": 40.0, "first": "window", "last": "window", "count": 1},
        {"_id": "setting", "keywords": ["snow", "sun", "snow"], "total": 141, "n": 3, "unique": ["snow", "sun"],
         "top": 80, "low": 1, "mean": 47.0, "first": "snow", "last": "snow", "count": 3},
    ]
    assert aggregate(rows, [{"$group": {"_id": None, "all": {"$sum": "$w"}}}]) == [{"_id": None, "all": 181}]
    assert aggregate(rows, [{"$count": "rows"}]) == [{"rows": 4}]


def test_anything_else_is_a_clear_error_naming_the_stage() -> None:
    with pytest.raises(QueryError, match=r"stage 2: '\$lookup' is not supported \(supported: \$match, \$project"):
        aggregate(SCENES, [{"$match": {}}, {"$lookup": {"from": "x"}}])
    with pytest.raises(QueryError, match=r"stage 1 \(\$addFields\): unsupported expression .*\$dateToString"):
        aggregate(SCENES, [{"$addFields": {"d": {"$dateToString": {"date": "$x"}}}}])
    with pytest.raises(QueryError, match=r"stage 1 \(\$match\): unsupported query operator '\$regex'"):
        aggregate(SCENES, [{"$match": {"title": {"$regex": "^S"}}}])
    with pytest.raises(QueryError, match="the new root must be an object, not nothing"):
        aggregate(SCENES, [{"$replaceRoot": {"newRoot": "$missing"}}])
    with pytest.raises(QueryError, match="must be a list of stages"):
        aggregate(SCENES, {"$match": {}})


def test_check_pipeline_finds_problems_without_data() -> None:
    assert check_pipeline([{"$unwind": "$a"}, {"$replaceRoot": {"newRoot": "$a"}}, {"$sort": {"w": -1}}]) == []
    assert check_pipeline([{"$facet": {}}]) == [
        "stage 1: '$facet' is not supported (supported: $match, $project, $unwind, $replaceRoot, $replaceWith, "
        "$addFields, $set, $sort, $limit, $skip, $group, $count)"]
    assert check_pipeline([{"$limit": 0}]) == ["stage 1 ($limit): needs a positive whole number"]
    assert check_pipeline([{"$sort": {"w": "desc"}}]) == ["stage 1 ($sort): needs {field: 1 or -1, ...}"]
    assert check_pipeline([{"$group": {"_id": "$c", "n": {"$median": "$w"}}}])[0].startswith(
        "stage 1 ($group): field 'n' needs one accumulator")
    assert check_pipeline([{"$match": {"a": 1}, "$limit": 1}])[0].startswith("stage 1: a stage is an object with one")
