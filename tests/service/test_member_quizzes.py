"""A quiz answered from the member's page over HTTP: the page and a member token's lists carry the
questions without their answers; the server scores what the member chose and records it once."""

from __future__ import annotations

import pytest

from service_support import bearer, quiz_item, seeded_client


@pytest.fixture
def world(tmp_path):
    with seeded_client(tmp_path / "store") as (client, keys):
        r = client.put("/v1/items", json=[quiz_item("quiz-1")], headers=bearer(keys.admin))
        assert r.status_code == 200, r.text
        # A day of three minutes holds the quiz alone.
        r = client.put("/v1/members", json=[{"id": "m-q", "name": "刘洋", "org": "hxny.fdgs.zb-yunxing",
                                             "roles": ["member"], "daily_minutes": 3}], headers=bearer(keys.a))
        assert r.status_code == 200, r.text
        r = client.post("/v1/members/m-q/token", headers=bearer(keys.a))
        yield client, keys, r.json()["token"]


def test_a_members_page_and_lists_carry_the_questions_but_not_the_answers(world):
    client, keys, token = world
    page = client.get("/v1/members/m-q/page", headers=bearer(token)).json()
    quiz = next(e["item"] for e in page["entries"] if e["item"]["id"] == "quiz-1")
    assert [q["id"] for q in quiz["questions"]] == ["1", "2", "3"]
    assert quiz["questions"][1]["type"] == "multiple" and quiz["questions"][1]["options"][2]["key"] == "C"
    assert "answer" not in str(page) and "提高质量" not in str(page)
    own = client.get("/v1/members/m-q/daily?preview=true", headers=bearer(token)).json()
    assert [q["answer"] for e in own["entries"] for q in e["item"]["questions"]] == [None, None, None]
    path = client.get("/v1/members/m-q/path?days=2", headers=bearer(token)).json()
    assert "提高质量" not in str(path)
    # The portal's own back end, with its key, reads them whole.
    portal = client.get("/v1/members/m-q/daily?preview=true", headers=bearer(keys.a)).json()
    assert [q["answer"] for e in portal["entries"] for q in e["item"]["questions"]] == ["A", "AC", "提高质量"]


def test_the_server_scores_the_answers_and_the_quiz_is_done(world):
    client, keys, token = world
    r = client.post("/v1/members/m-q/quizzes/quiz-1", json={"id": "w1", "answers": {"1": "A", "2": "C", "3": "提高质量"}},
                    headers=bearer(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["right"] == 2 and body["total"] == 3 and body["correct"] == [True, False, True]
    assert body["answers"] == ["A", "AC", "提高质量"] and body["recorded"] is True
    assert abs(body["score"] - 2 / 3) < 1e-6
    # A retry after a lost answer: the same event, recorded once.
    again = client.post("/v1/members/m-q/quizzes/quiz-1", json={"id": "w1", "answers": {"1": "A", "2": "C", "3": "提高质量"}},
                        headers=bearer(token))
    assert again.status_code == 200 and again.json()["recorded"] is False
    # Another attempt, the answers known: refused until the quiz's review is due.
    retake = client.post("/v1/members/m-q/quizzes/quiz-1", json={"id": "w2", "answers": {"1": "A", "2": "AC", "3": "提高质量"}},
                         headers=bearer(token))
    assert retake.status_code == 409 and "already answered" in retake.text
    events = client.get("/v1/members/m-q/events", headers=bearer(keys.a)).json()["events"]
    assert [(e["item"], e["kind"], e["id"]) for e in events if e["kind"] == "quiz"] == [("quiz-1", "quiz", "m-q:w1")]
    assert "quiz-1" not in str(client.get("/v1/members/m-q/daily?preview=true", headers=bearer(token)).json())


def test_what_cannot_be_answered_is_refused_and_nothing_recorded(world):
    client, keys, token = world
    answers = {"answers": {"1": "A"}}
    assert client.post("/v1/members/m-q/quizzes/quiz-1", json=answers).status_code == 401
    other = client.post("/v1/members/m-a/token", headers=bearer(keys.a)).json()["token"]
    assert client.post("/v1/members/m-q/quizzes/quiz-1", json=answers, headers=bearer(other)).status_code == 404
    assert client.post("/v1/members/m-q/quizzes/b-item", json=answers, headers=bearer(token)).status_code == 404  # zjjt's
    later = {**quiz_item("quiz-later"), "published": "2099-01-01"}
    assert client.put("/v1/items", json=[later], headers=bearer(keys.admin)).status_code == 200
    hidden = client.post("/v1/members/m-q/quizzes/quiz-later", json=answers, headers=bearer(token))
    assert hidden.status_code == 404 and "提高质量" not in hidden.text  # not out yet: no answers back
    not_quiz = client.post("/v1/members/m-q/quizzes/a-item", json=answers, headers=bearer(token))
    assert not_quiz.status_code == 422 and "not a quiz" in not_quiz.text
    unknown = client.post("/v1/members/m-q/quizzes/quiz-1", json={"answers": {"7": "A"}}, headers=bearer(token))
    assert unknown.status_code == 422 and "answers.7" in unknown.text
    too_long = client.post("/v1/members/m-q/quizzes/quiz-1", json={"answers": {"1": "A" * 201}}, headers=bearer(token))
    assert too_long.status_code == 422
    assert client.post("/v1/members/m-q/quizzes/quiz-1", json={"answer": {"1": "A"}}, headers=bearer(token)).status_code == 422
    # Nor around the scoring: a member token's own quiz score, or its hours without answering.
    for kind in ("quiz", "complete"):
        own = client.post("/v1/members/m-q/events", json=[{"item": "quiz-1", "kind": kind, "value": 1.0}],
                          headers=bearer(token))
        assert own.status_code == 422 and "/v1/members/m-q/quizzes/quiz-1" in own.text, own.text
    events = client.get("/v1/members/m-q/events", headers=bearer(keys.a)).json()["events"]
    assert [e for e in events if e["kind"] in ("quiz", "complete")] == []
    # The portal's key may record a quiz taken elsewhere; the member may still start one.
    assert client.post("/v1/members/m-q/events", json=[{"item": "quiz-1", "kind": "start"}],
                       headers=bearer(token)).status_code == 200
    assert client.post("/v1/members/m-q/events", json=[{"item": "quiz-1", "kind": "quiz", "value": 0.8}],
                       headers=bearer(keys.a)).status_code == 200


def test_a_member_token_answers_across_origins(world):
    client, _, token = world
    origin = {"Origin": "http://portal.example"}
    pre = client.options("/v1/members/m-q/quizzes/quiz-1", headers={
        **origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    answered = client.post("/v1/members/m-q/quizzes/quiz-1", json={"answers": {"1": "A"}}, headers={**origin, **bearer(token)})
    assert answered.status_code == 200 and answered.headers.get("access-control-allow-origin") == "*"
