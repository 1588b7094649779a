"""Check that fuzzlib.Provider (the pure-Python decoder the regular suite
uses to replay fuzz/corpus without atheris) decodes bytes exactly as
atheris.FuzzedDataProvider does.  Run by tools/run_fuzz.sh, where atheris
is installed:  python fuzz/check_provider.py
"""
import math
import pathlib
import random
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def main():
    import atheris
    import fuzzlib
    rnd = random.Random(7)
    calls = [("ConsumeIntInRange", lambda: sorted(
                 [rnd.randint(-2 ** 63, 2 ** 63), rnd.randint(-9, 300)])),
             ("ConsumeIntInRange", lambda: (0, rnd.randint(0, 6))),
             ("ConsumeBool", lambda: ()),
             ("ConsumeBytes", lambda: (rnd.randint(0, 9),)),
             ("ConsumeProbability", lambda: ()),
             ("ConsumeFloat", lambda: ()),
             ("ConsumeFloatInRange", lambda: (-4.0, 4.0)),
             ("PickValueInList", lambda: (list(range(rnd.randint(1, 300))),))]
    for _ in range(300):
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64)))
        ours = fuzzlib.Provider(data)
        theirs = atheris.FuzzedDataProvider(data)
        for _ in range(rnd.randint(1, 30)):
            name, make = rnd.choice(calls)
            args = make()
            a = getattr(ours, name)(*args)
            b = getattr(theirs, name)(*args)
            same = (a == b or (isinstance(a, float) and math.isnan(a)
                               and math.isnan(b)))
            assert same and type(a) is type(b), (name, args, a, b, data)
            assert ours.remaining_bytes() == theirs.remaining_bytes()
    print("fuzzlib.Provider decodes as atheris.FuzzedDataProvider")


if __name__ == "__main__":
    main()
