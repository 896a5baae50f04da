"""Times Amazon's AMC uploader normalizers on a CSV, for `cargo bench -- csv`.

Usage: python3 scripts/bench-uploader.py FILE UPLOADER [COLUMN=TYPE ...]

UPLOADER is a checkout of aws-solutions/amazon-marketing-cloud-uploader-from-aws: its
`source/glue/library` is imported from there (nothing of it is copied into this project),
and needs `pandas`, `regex` and `phonenumbers` (`pip install pandas regex phonenumbers`).
It runs what the uploader's Glue job runs on a file (`amc_transformations.py`): pandas reads
the CSV with the PII columns as strings, then `transform_data` (normalization, country
US) and `hash_data` (SHA-256). Prints one line, `seconds S peak_rss_mb M`, for the whole
run (reading included, as `hash-csv`'s time includes reading). Asserts nothing.
"""

import os
import resource
import sys
import time


def main():
    path, uploader = sys.argv[1], sys.argv[2]
    pairs = sys.argv[3:] or [
        "email=EMAIL",
        "phone=PHONE",
        "first_name=FIRST_NAME",
        "last_name=LAST_NAME",
        "address=ADDRESS",
        "city=CITY",
        "state=STATE",
        "zip=ZIP",
    ]
    fields = [dict(zip(("column_name", "pii_type"), p.split("=", 1))) for p in pairs]
    glue = os.path.join(uploader, "source", "glue")
    sys.path.insert(0, glue)
    # The address normalizer finds its word tables next to itself, or in the working
    # directory's library.zip (Glue): run from its directory.
    os.chdir(glue)
    import pandas as pd
    from library.transform import hash_data, transform_data

    start = time.perf_counter()
    data = pd.read_csv(path, dtype={f["column_name"]: "str" for f in fields})
    data = transform_data(data=data, pii_fields=fields, country_code="US")
    data = hash_data(data=data, pii_fields=fields)
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"seconds {seconds:.3f} peak_rss_mb {rss_mb:.1f} rows {len(data)}")


if __name__ == "__main__":
    main()
