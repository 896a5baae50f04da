#!/usr/bin/env python3
"""Compares `matchkey hash` on PHONE with libphonenumber itself (PyPI `phonenumbers`,
the definition of PHONE-1) over generated inputs, and prints agreement per region.

    pip install phonenumbers==9.0.43
    cargo build && python3 scripts/check-phone-reference.py [US,GB,...]

Known differences: national numbers that begin with their own country's calling code are
judged by length and first digit instead of libphonenumber's number patterns."""
import json
import random
import subprocess
import sys
from collections import Counter

import phonenumbers
from phonenumbers import NumberParseException as NPE
from phonenumbers import ValidationResult as VR

REGIONS = "US,CA,GB,DE,FR,IT,ES,JP,IN,AU,MX,BR,NL,SE,PL,TR,AE,SA,SG,BE,EG,ZA,IE"


def reference(text, region):
    try:
        number = phonenumbers.parse(text, region)
    except NPE as e:
        if e.error_type in (NPE.TOO_SHORT_NSN, NPE.TOO_LONG, NPE.TOO_SHORT_AFTER_IDD):
            return {"error": "impossible_phone_length"}
        return {"error": "unparseable_phone"}
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == VR.INVALID_COUNTRY_CODE:
        return {"error": "unparseable_phone"}
    if reason != VR.IS_POSSIBLE:
        return {"error": "impossible_phone_length"}
    return {"normalized": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]}


def inputs(seed=1, n=4000):
    rng = random.Random(seed)
    for _ in range(n):
        d = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 14)))
        yield rng.choice(
            [f"+{d}", f"00{d}", f"0{d}", f"{d} ext. {rng.randint(1, 999)}", f"({d[:3]}) {d[3:]}",
             f"011 {d}", f"1{d}", d, f"{d[:3]}-{d[3:6]}-{d[6:]}", f"+{d[:2]} (0){d[2:]}"]
        )


def main():
    regions = (sys.argv[1] if len(sys.argv) > 1 else REGIONS).split(",")
    texts = list(inputs())
    cases = [(region, text) for region in regions for text in texts]
    lines = "".join(json.dumps({"field": "PHONE", "country": r, "input": t}) + "\n" for r, t in cases)
    out = subprocess.run(["target/debug/matchkey", "hash"], input=lines, capture_output=True, text=True, check=True)
    same, differ, examples = Counter(), Counter(), {}
    for (region, text), line in zip(cases, out.stdout.splitlines()):
        got = json.loads(line)
        got.pop("sha256", None)
        want = reference(text, region)
        if got == want:
            same[region] += 1
        else:
            differ[region] += 1
            examples.setdefault(region, (text, want, got))
    for region in regions:
        total = same[region] + differ[region]
        print(f"{region}: {same[region]}/{total} agree" + (f"  e.g. {examples[region]}" if region in examples else ""))
    print(f"all: {sum(same.values())}/{len(cases)} agree")


if __name__ == "__main__":
    main()
