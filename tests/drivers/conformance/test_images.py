"""The ``ImageStore`` contract, over every driver in ``conftest.DRIVERS`` (the fake and Docker).

What the images and apps services rely on: a build carries its tag and labels and is listed by
label; ``image`` of a missing image is ``None`` (not an error); a failed build is ``InvalidInput``
and leaves no tagged image; ``tag_image`` adds a name, of a missing image it is ``InvalidInput``;
``remove_image`` is ``Conflict`` while a container uses the image and succeeds when it is gone.
"""

from __future__ import annotations

import uuid

import pytest

from cumulo.core.errors import Conflict, InvalidInput
from cumulo.drivers.compute.base import LABEL_INSTALLATION, ComputeDriver
from cumulo.drivers.compute.contract import ContainerRuntime, ImageStore
from tests.drivers.conformance.conftest import BASE_IMAGE, INSTALLATION, context, needs, spec


def _tag() -> str:
    return f"cumulo/{INSTALLATION}-{uuid.uuid4().hex[:6]}:1"


async def test_a_missing_image_is_none(images: ImageStore) -> None:
    assert await images.image(f"cumulo/missing-{uuid.uuid4().hex[:8]}:1") is None
    assert await images.image("NOT a valid reference!") is None
    with pytest.raises(InvalidInput):
        await images.tag_image(f"cumulo/missing-{uuid.uuid4().hex[:8]}:1", _tag())
    await images.remove_image(f"cumulo/missing-{uuid.uuid4().hex[:8]}:1")  # already gone: succeeds


async def test_the_base_image_is_known_by_name(images: ImageStore) -> None:
    info = await images.image(BASE_IMAGE)
    assert info is not None and f"{BASE_IMAGE}:latest" in info.tags
    assert (await images.image(info.id)) is not None  # by id too


async def test_build_tag_list_remove(images: ImageStore) -> None:
    tag, group = _tag(), uuid.uuid4().hex[:8]
    labels = {LABEL_INSTALLATION: INSTALLATION, "cumulo.test-group": group}
    logged: list[str] = []
    built = await images.build_image(context(f"FROM {BASE_IMAGE}\nRUN true\n"), tag, labels,
                                     on_log=logged.append, network="none")
    assert tag in built.tags and built.labels["cumulo.test-group"] == group and logged
    info = await images.image(tag)
    assert info is not None and info.id == built.id
    assert [i.id for i in await images.images({"cumulo.test-group": group})] == [built.id]
    assert await images.images({"cumulo.test-group": f"nobody-{group}"}) == []
    second = _tag()
    await images.tag_image(tag, second)
    again = await images.image(second)
    assert again is not None and again.id == built.id
    await images.remove_image(second)  # one of two names: only that name goes
    assert await images.image(second) is None and (await images.image(tag)) is not None
    await images.remove_image(tag)
    assert await images.image(tag) is None and await images.image(second) is None
    assert await images.images({"cumulo.test-group": group}) == []


async def test_a_failed_build_is_invalid_input_and_leaves_no_tag(images: ImageStore) -> None:
    tag = _tag()
    with pytest.raises(InvalidInput) as failed:
        await images.build_image(context(f"FROM {BASE_IMAGE}\nRUN false\n"), tag,
                                 {LABEL_INSTALLATION: INSTALLATION}, network="none")
    assert failed.value.details.get("log_tail") is not None
    assert await images.image(tag) is None


async def test_an_image_in_use_cannot_be_removed(driver: ComputeDriver) -> None:
    needs(driver, ImageStore, ContainerRuntime)
    tag = _tag()
    await driver.build_image(context(f"FROM {BASE_IMAGE}\n"), tag, {LABEL_INSTALLATION: INSTALLATION},
                             network="none")
    s = spec(image=tag)
    await driver.create(s)
    with pytest.raises(Conflict):
        await driver.remove_image(tag)
    assert await driver.image(tag) is not None
    await driver.destroy(s.name)
    await driver.remove_image(tag)
    assert await driver.image(tag) is None
