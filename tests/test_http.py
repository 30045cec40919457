"""The shared HTTP layer against a real local server: which refusals stop a run and which stay per batch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reverse_etl.errors import DestinationAuthError, FatalDestinationError
from reverse_etl.http import HttpClient, HttpRequest
from reverse_etl.sandbox.server import FakeServer, FakeService, Request, Response

TOKEN = "s3cr3t-token-value"


class Refusing(FakeService):
    """Answers /{status} with that status and a body that repeats the Authorization header it was sent."""

    name = "refusing"

    def __init__(self) -> None:
        super().__init__()
        self.route("POST", "/{status}", self.answer)

    def answer(self, request: Request) -> Response:
        return Response(
            int(request.params["status"]), {"error": f"refused {request.header('authorization')}"}
        )


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(Refusing()) as running:
        yield running


def send(server: FakeServer, status: int, credential: bool, destination: str = "") -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"} if credential else {}
    HttpClient(destination=destination).send(HttpRequest("POST", f"{server.url}/{status}", headers, json={}))


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_credential_is_an_auth_error_that_never_shows_the_credential(
    server: FakeServer, status: int
) -> None:
    with pytest.raises(DestinationAuthError) as refused:
        send(server, status, credential=True, destination="hubspot")
    message = str(refused.value)
    assert message.startswith(f"hubspot refused the credential (HTTP {status} to POST /{status}): ")
    assert TOKEN not in message and '{"error": "refused ***"}' in message
    assert TOKEN not in (refused.value.body or "")
    assert refused.value.exit_code == 7 and not isinstance(refused.value, FatalDestinationError)


def test_without_a_destination_name_the_host_is_named(server: FakeServer) -> None:
    with pytest.raises(
        DestinationAuthError, match=r"^the destination at 127\.0\.0\.1:\d+ refused the credential"
    ):
        send(server, 401, credential=True)


def test_a_403_to_a_request_without_a_credential_stays_a_fatal_batch_error(server: FakeServer) -> None:
    # A pre-signed upload URL carries no credential: its 403 is about that URL, and fails only its batch.
    with pytest.raises(FatalDestinationError, match="HTTP 403"):
        send(server, 403, credential=False)
    with pytest.raises(FatalDestinationError, match="HTTP 404"):
        send(server, 404, credential=True)
