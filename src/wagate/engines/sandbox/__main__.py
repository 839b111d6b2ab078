"""``python -m wagate.engines.sandbox --port 8765 --data-dir ./data``"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from wagate.config import Settings
from wagate.engines.sandbox.network import DEFAULT_MAX_MESSAGES_PER_PHONE
from wagate.engines.sandbox.server import run


def main(argv: list[str] | None = None) -> None:
    settings = Settings()  # WAGATE_* variables still apply (QR interval, keep-alive)
    parser = argparse.ArgumentParser(
        prog="python -m wagate.engines.sandbox",
        description="Run the wagate sandbox network as its own process.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument(
        "--max-messages",
        type=int,
        default=DEFAULT_MAX_MESSAGES_PER_PHONE,
        help="messages kept per phone",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run(
        args.host,
        args.port,
        args.data_dir,
        settings.model_copy(update={"data_dir": args.data_dir}),
        max_messages_per_phone=args.max_messages,
    )


if __name__ == "__main__":
    main()
