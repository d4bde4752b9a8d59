"""The fault soak (soak.py), short: about 40 s of faults and load against a ThreadSanitizer
build, where any data race in reload, purges, flushes, snapshots or the exchange fails the test
with the report printed. Registered in ctest only for a build with -fsanitize=thread (the tsan
preset); the long run is benchmarks/fault_soak.py."""

import os
import unittest

import soak
from harness import BIN

# Long enough for several reloads (both variants twice over) and origin restarts.
SECONDS = int(os.environ.get("FC_SOAK_SECONDS", "35"))


@unittest.skipUnless(BIN and soak.tsan_build(BIN), "needs a ThreadSanitizer build (tsan preset)")
class TsanSoak(unittest.TestCase):
    def test_no_race_under_faults(self):
        result = soak.Soak(BIN, seconds=SECONDS, reload_every=4, origin_every=6,
                           log=lambda line: print(line, flush=True)).run()
        text = soak.describe(result)
        print(text, flush=True)
        self.assertFalse(soak.failed(result), "the soak failed; see the reports above")
        # The load really ran: a broken client loop must not pass for a quiet server.
        self.assertGreater(result["requests"], 20 * SECONDS)
        self.assertGreaterEqual(result["reloads"], 4)


if __name__ == "__main__":
    unittest.main()
