"""``DockerImages``: the ``ImageStore`` contract (``contract.py``) on Docker Engine. Part of
``DockerDriver``; usable alone (``DockerImages(base_url)``) where only images are needed."""

from __future__ import annotations

import io
from typing import Any

import docker.errors

from cumulo.core.errors import InvalidInput
from cumulo.drivers.compute.base import ImageInfo, LogSink
from cumulo.drivers.compute.dockerengine import DockerEngine


def _image(attrs: dict[str, Any]) -> ImageInfo:
    config = attrs.get("Config") or attrs.get("ContainerConfig") or {}
    return ImageInfo(id=attrs["Id"], tags=list(attrs.get("RepoTags") or []), size_bytes=int(attrs.get("Size") or 0),
                     created=attrs.get("Created") if isinstance(attrs.get("Created"), str) else None,
                     labels=(config.get("Labels") or attrs.get("Labels") or {}),
                     onbuild=list(config.get("OnBuild") or []))


class DockerImages(DockerEngine):
    async def image(self, ref: str) -> ImageInfo | None:
        def get() -> ImageInfo | None:
            try:
                return _image(self.api.inspect_image(ref))
            except docker.errors.NotFound:
                return None
            except docker.errors.APIError as exc:
                if exc.status_code == 400:  # malformed reference: no such image either
                    return None
                raise

        return await self._run(get)

    async def images(self, labels: dict[str, str]) -> list[ImageInfo]:
        def list_images() -> list[ImageInfo]:
            rows = self.api.images(filters={"label": [f"{k}={v}" for k, v in labels.items()]})
            return [ImageInfo(id=r["Id"], tags=list(r.get("RepoTags") or []), size_bytes=int(r.get("Size") or 0),
                              created=None, labels=r.get("Labels") or {}) for r in rows]

        return await self._run(list_images)

    async def build_image(self, context_tar: bytes, tag: str, labels: dict[str, str],
                          on_log: LogSink | None = None, memory_mb: int | None = None,
                          network: str | None = None) -> ImageInfo:
        def build() -> ImageInfo:
            tail: list[str] = []
            limits = {"memory": memory_mb * 1024 * 1024} if memory_mb else None
            for chunk in self.api.build(fileobj=io.BytesIO(context_tar), custom_context=True, tag=tag,
                                        labels=labels, rm=True, forcerm=True, decode=True, pull=False,
                                        container_limits=limits, network_mode=network):
                text = chunk.get("stream") or chunk.get("status") or ""
                if "error" in chunk:
                    text = f"ERROR: {chunk['error']}\n"
                if text:
                    tail = (tail + text.splitlines())[-15:]
                    if on_log:
                        on_log(text)
                if "error" in chunk:
                    raise InvalidInput(f"image build failed: {chunk['error'].strip()}",
                                       details={"log_tail": tail})
            return _image(self.api.inspect_image(tag))

        return await self._run(build)

    async def load_image(self, archive_path: str) -> None:
        def load() -> None:
            with open(archive_path, "rb") as fh:
                for _ in self.api.load_image(fh):
                    pass

        await self._run(load)

    async def pull_image(self, ref: str) -> ImageInfo:
        def pull() -> ImageInfo:
            self.client.images.pull(ref)
            return _image(self.api.inspect_image(ref))

        return await self._run(pull)

    async def tag_image(self, ref: str, tag: str) -> None:
        repo, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
        await self._run(self.api.tag, ref, repo, version, force=True)

    async def remove_image(self, ref: str) -> None:
        def remove() -> None:
            try:
                self.api.remove_image(ref, force=False, noprune=False)
            except docker.errors.ImageNotFound:
                pass

        await self._run(remove)
