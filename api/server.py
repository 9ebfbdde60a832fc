"""Serve the API with gunicorn from Python, building the app in each worker."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from api import create_app


class PlacementsServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application whose workers each build their own app."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply the options given on the command line."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Build the app (in the worker, after the fork)."""
        return create_app()


def serve(*, host: str, port: int, workers: int, threads: int) -> None:
    """Run gunicorn until it is stopped."""
    PlacementsServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": None,
            "graceful_timeout": 10,
            "timeout": 60,
        }
    ).run()
