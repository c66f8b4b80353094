"""How readers reach a snapshot on object storage (``s3://bucket/warehouse``): one set of connection
settings, turned into what each library takes. fsspec/s3fs (the manifest), polars (the tables) and
pyarrow (DuckDB's datasets) spell the same settings differently, so one dict passed to all of them fails
whenever it says anything explicit (`key` to one is `aws_access_key_id` to another).

Credentials come from the arguments, else from a profile of ``~/.aws`` (resolved once, here, into keys
that every library is then given), else from each library's own default chain (the ``AWS_*`` environment
variables, an instance role). `ObjectStore.from_env` reads the standard variables: ``AWS_ENDPOINT_URL``
(MinIO, a local S3 server), ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_PROFILE``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

S3 = "s3://"


@dataclass(frozen=True)
class ObjectStore:
    endpoint_url: str | None = None  # http(s)://host:port of an S3-compatible server; None: AWS itself
    region: str | None = None
    key: str | None = None  # access key id; None: the profile or the libraries' default chain
    secret: str | None = None
    token: str | None = None  # session token of temporary credentials
    profile: str | None = None  # a profile of ~/.aws/credentials, resolved into key/secret/token

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ObjectStore:
        env = os.environ if environ is None else environ
        return cls(
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            profile=env.get("AWS_PROFILE") or None,
        )

    def resolved(self) -> ObjectStore:
        """The profile's credentials (and region) filled in; explicit keys win over the profile."""
        if self.profile is None or self.key is not None:
            return self
        import botocore.session  # s3fs's own dependency (through aiobotocore)

        session = botocore.session.Session(profile=self.profile)
        found = session.get_credentials()
        if found is None:
            raise ValueError(f"AWS profile {self.profile!r} has no credentials")
        frozen = found.get_frozen_credentials()
        region = self.region or session.get_config_variable("region")
        return replace(
            self, key=frozen.access_key, secret=frozen.secret_key, token=frozen.token, region=region
        )

    def fsspec_options(self) -> dict[str, Any]:
        """Keyword arguments of s3fs.S3FileSystem (through fsspec.open)."""
        s = self.resolved()
        client = {k: v for k, v in (("endpoint_url", s.endpoint_url), ("region_name", s.region)) if v}
        options = {"key": s.key, "secret": s.secret, "token": s.token}
        return {k: v for k, v in options.items() if v} | ({"client_kwargs": client} if client else {})

    def polars_options(self) -> dict[str, str]:
        """polars' `storage_options` (object_store's aws_* keys)."""
        s = self.resolved()
        options = {
            "aws_endpoint_url": s.endpoint_url,
            "aws_region": s.region,
            "aws_access_key_id": s.key,
            "aws_secret_access_key": s.secret,
            "aws_session_token": s.token,
        }
        if s.endpoint_url and s.endpoint_url.startswith("http://"):
            options["aws_allow_http"] = "true"
        return {k: v for k, v in options.items() if v}

    def arrow_filesystem(self) -> Any:
        """A pyarrow S3FileSystem (paths given to it are ``bucket/key``, without ``s3://``)."""
        import pyarrow.fs as pafs

        s = self.resolved()
        options: dict[str, Any] = {"access_key": s.key, "secret_key": s.secret, "session_token": s.token}
        options |= {"region": s.region}
        if s.endpoint_url:
            scheme, _, host = s.endpoint_url.partition("://")
            options |= {"endpoint_override": host.rstrip("/"), "scheme": scheme}
        return pafs.S3FileSystem(**{k: v for k, v in options.items() if v})


def is_s3(location: str) -> bool:
    return location.startswith(S3)
