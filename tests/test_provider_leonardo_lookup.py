"""Leonardo's recovery lookup (find_submitted) against the fake: a job whose create
answer was lost is found again in `GET /generations/user/{id}` by prompt and time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.providers.base import ProviderError
from engine.providers.leonardo import lookup
from tests.fakes import png_bytes
from tests.fakes.leonardo_server import FakeLeonardo
from tests.test_provider_leonardo import KEY, fake, image_request, leo_images, leo_video, run_job, video_request

__all__ = ["fake"]  # the fixture, used by name


async def test_images_found_by_prompt_and_time_with_the_user_id_asked_once(fake: FakeLeonardo,
                                                                           tmp_path: Path) -> None:
    provider = leo_images(fake)
    since = time.time()
    ours = await provider.submit(image_request(), tmp_path)
    await provider.submit(image_request().model_copy(update={"prompt": "a beagle on a sofa"}), tmp_path)
    found = await provider.find_submitted(image_request(), since)
    assert found is not None and [r.job_id for r in found] == [ours.job_id]
    assert found[0].provider_data == ours.provider_data and found[0].cost.is_free  # cost unknown: the estimate
    statuses = await run_job(provider, found[0].job_id, found[0].provider_data)
    assert statuses[-1].state == "completed"  # adopted, it polls as the job submit() started
    assert await provider.find_submitted(image_request(), since) is not None
    assert len(fake.calls("GET", "/api/rest/v1/me")) == 1, "the user id is cached"
    listed = fake.calls("GET", f"/api/rest/v1/generations/user/{fake.user_id}")
    assert len(listed) == 2 and all(r.headers["authorization"] == f"Bearer {KEY}" for r in listed)


async def test_images_of_another_size_or_an_earlier_time_are_not_candidates(fake: FakeLeonardo,
                                                                            tmp_path: Path) -> None:
    provider = leo_images(fake)
    await provider.submit(image_request(width=512, height=512), tmp_path)
    assert await provider.find_submitted(image_request(), time.time() - 5) == []  # same prompt, other size
    await provider.submit(image_request(), tmp_path)
    later = time.time() + lookup.SKEW_S + 60
    assert await provider.find_submitted(image_request(), later) == []  # made before the job was marked


async def test_video_found_by_the_prompt_it_sent(fake: FakeLeonardo, tmp_path: Path) -> None:
    source = tmp_path / "frame.png"
    source.write_bytes(png_bytes(576, 1024))
    provider = leo_video(fake)
    request = video_request(source, motion_strength="8")
    since = time.time()
    ours = await provider.submit(request, tmp_path)
    found = await provider.find_submitted(request, since)
    assert found is not None and [r.job_id for r in found] == [ours.job_id]
    assert {k: found[0].provider_data[k] for k in ("generation_id", "kind", "model", "duration")} == {
        k: ours.provider_data[k] for k in ("generation_id", "kind", "model", "duration")}
    assert await provider.find_submitted(video_request(source), since) == []  # the motion is part of the prompt


async def test_the_list_is_paged_back_to_the_window_and_a_wrong_key_is_refused(fake: FakeLeonardo,
                                                                               tmp_path: Path) -> None:
    provider = leo_images(fake)
    since = time.time()
    ours = await provider.submit(image_request(), tmp_path)
    for i in range(lookup.PAGE + 5):  # newer generations push ours onto the second page
        fake.generations[f"other-{i}"] = {**fake.generations[ours.job_id], "prompt": f"p{i}",
                                          "created": time.time() + 1}
    found = await provider.find_submitted(image_request(), since)
    assert found is not None and [r.job_id for r in found] == [ours.job_id]
    assert len(fake.calls("GET", f"/api/rest/v1/generations/user/{fake.user_id}")) == 2
    fake.api_key = "another-key"  # the lookup checks auth as every other route does
    with pytest.raises(ProviderError) as failed:
        await leo_images(fake).find_submitted(image_request(), since)
    assert failed.value.kind == "authentication"


def test_created_at_reads_leonardos_timestamps() -> None:
    assert lookup.created_at({"createdAt": "2026-12-07T01:02:03.500"}) == 1796605323.5
    assert lookup.created_at({"createdAt": "2026-12-07T01:02:03.500Z"}) == 1796605323.5
    assert lookup.created_at({"createdAt": "2026-12-07T02:02:03.500+01:00"}) == 1796605323.5
    assert lookup.created_at({"createdAt": "yesterday"}) is None and lookup.created_at({}) is None


async def test_jobs_of_one_prompt_are_told_apart_by_the_seed_drawn_from_their_reference(
        fake: FakeLeonardo, tmp_path: Path) -> None:
    source = tmp_path / "frame.png"
    source.write_bytes(png_bytes(576, 1024))
    since = time.time()
    for provider, request in ((leo_images(fake), image_request()), (leo_video(fake), video_request(source))):
        ours, theirs = (request.model_copy(update={"reference": ref}) for ref in ("job-ours", "job-theirs"))
        mine = await provider.submit(ours, tmp_path)
        await provider.submit(theirs, tmp_path)
        found = await provider.find_submitted(ours, since)
        assert found is not None and [r.job_id for r in found] == [mine.job_id], "the twin is not a candidate"
        assert len(await provider.find_submitted(request, since) or []) == 2, "no reference: both still match"
    sent = [r.json for r in fake.calls("POST", "/api/rest/v1/generations")]
    assert sent[0]["seed"] != sent[1]["seed"] and sent[0]["seed"] == lookup.job_seed(image_request().model_copy(
        update={"reference": "job-ours"})), "the seed is the reference's, the same on every attempt"
    assert 0 <= sent[0]["seed"] < lookup.SEED_RANGE


async def test_the_persons_seed_is_kept_and_veo_is_sent_none(fake: FakeLeonardo, tmp_path: Path) -> None:
    source = tmp_path / "frame.png"
    source.write_bytes(png_bytes(576, 1024))
    await leo_images(fake).submit(image_request(seed=42).model_copy(update={"reference": "job-1"}), tmp_path)
    assert fake.calls("POST", "/api/rest/v1/generations")[-1].json["seed"] == 42
    veo = video_request(source, model="VEO3_1", duration="8").model_copy(update={"reference": "job-2"})
    await leo_video(fake).submit(veo, tmp_path)  # Leonardo documents no seed for Veo: the prompt alone is compared
    assert "seed" not in fake.calls("POST", "/api/rest/v1/generations-image-to-video")[-1].json
    assert lookup.job_seed(image_request()) is None, "without a reference nothing is added"
