"""argparse types for numeric and JSON-file options: a bad value is refused while parsing, with the option's
usage line, before any model is loaded."""
from __future__ import annotations

import argparse
import math


def int_in(low: int, high: float = math.inf):
    """An int option in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be at least {low}" + (f" and at most {high}" if math.isfinite(high) else "") + f", not {value}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its messages
    return parse


def float_in(low: float, high: float = math.inf, low_open: bool = False):
    """A finite float option in [low, high] (or (low, high] with ``low_open``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            bound = f"more than {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(
                f"must be {bound}" + (f" and at most {high:g}" if math.isfinite(high) else "") + f", not {text}")
        return value

    parse.__name__ = "number"
    return parse


POSITIVE = int_in(1)
NON_NEGATIVE = int_in(0)
PORT = int_in(0, 65535)
FRACTION = float_in(0.0, 1.0)
POSITIVE_FLOAT = float_in(0.0, low_open=True)


def json_object_file(text: str) -> dict:
    """A readable file holding one JSON object (e.g. ``--metrics``), read while parsing."""
    import json

    try:
        with open(text, encoding="utf-8") as handle:
            value = json.load(handle)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise argparse.ArgumentTypeError(f"{text} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text} holds a JSON {type(value).__name__}, not an object")
    return value


json_object_file.__name__ = "JSON file"
