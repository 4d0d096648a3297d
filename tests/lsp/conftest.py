"""Fixtures for the language-server tests: a pytest-lsp client connected to
`target/release/prunekit-lsp --stdio`, initialized with the capabilities that pytest-lsp captured
from real clients (VS Code 1.65 and the latest Neovim it ships, 0.11), one test per profile."""

from __future__ import annotations

import time

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from lsp_harness import LSP_BIN, MISSING_LSP, REPO_ROOT, Published

PROFILES = ["visual-studio-code", "neovim"]


def _on_publish(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
    ls.diagnostics[params.uri] = params.diagnostics
    ls.published.append(Published(time.perf_counter(), params.uri, params.version,
                                  list(params.diagnostics)))


def _on_register(ls: LanguageClient, params: types.RegistrationParams) -> None:
    ls.registrations.extend(params.registrations)


def _on_unregister(ls: LanguageClient, params: types.UnregistrationParams) -> None:
    ids = {u.id for u in params.unregisterations}
    ls.registrations[:] = [r for r in ls.registrations if r.id not in ids]


def make_client() -> LanguageClient:
    """pytest-lsp's client, but keeping every publishDiagnostics (with its version and arrival time)
    so that a test can wait for the diagnostics of the text it sent last."""
    client = LanguageClient(converter_factory=default_converter)
    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = _on_publish
    # Both editors accept dynamic registration (e.g. of watched files); pytest-lsp's client has no
    # handler for it and would answer "method not found".
    features[types.CLIENT_REGISTER_CAPABILITY] = _on_register
    features[types.CLIENT_UNREGISTER_CAPABILITY] = _on_unregister
    register_lsp_features(client, features)
    client.published = []
    client.registrations = []
    client.position_encoding = "utf-16"
    client.profile = None
    client.init_result = None
    return client


@pytest.fixture(autouse=True)
def _require_server():
    """Fail with the command to run (before pytest-lsp tries to spawn a missing binary)."""
    if not LSP_BIN.is_file():
        pytest.fail(MISSING_LSP, pytrace=False)


def _language_id(profile: str, uri: str) -> str:
    if uri.endswith(".md"):
        return "markdown"
    # The VS Code extension contributes its own language; Neovim calls it yaml.
    return "prunekit-recipe" if profile == "visual-studio-code" else "yaml"


@pytest_lsp.fixture(
    params=PROFILES,
    config=ClientServerConfig(server_command=[str(LSP_BIN), "--stdio"], client_factory=make_client),
)
async def client(request, lsp_client: LanguageClient):
    profile = request.param
    params = types.InitializeParams(
        capabilities=client_capabilities(profile),
        root_uri=REPO_ROOT.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=REPO_ROOT.as_uri(), name="prunekit")],
        client_info=types.ClientInfo(name=f"pytest-lsp as {profile}"),
    )
    result = await lsp_client.initialize_session(params)
    lsp_client.init_result = result
    lsp_client.profile = profile
    enc = result.capabilities.position_encoding
    lsp_client.position_encoding = str(enc.value if hasattr(enc, "value") else enc) if enc else "utf-16"
    lsp_client.language_id = lambda uri: _language_id(profile, uri)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[str(LSP_BIN), "--stdio"], client_factory=make_client),
)
async def client_one_encoding(request, lsp_client: LanguageClient):
    """Neovim's capabilities, but offering only the position encoding in request.param."""
    caps = client_capabilities("neovim")
    caps.general.position_encodings = [types.PositionEncodingKind(request.param)]
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=caps, root_uri=REPO_ROOT.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=REPO_ROOT.as_uri(), name="prunekit")]))
    lsp_client.init_result = result
    lsp_client.profile = f"neovim offering {request.param}"
    lsp_client.offered = request.param
    enc = result.capabilities.position_encoding
    lsp_client.position_encoding = str(enc.value if hasattr(enc, "value") else enc) if enc else "utf-16"
    lsp_client.language_id = lambda uri: _language_id("neovim", uri)
    yield
    await lsp_client.shutdown_session()
