"""The base of the errors a user can fix (the CLI prints them as one line, exit 2)."""


class TfvaeError(Exception):
    """A problem with the user's input, files or settings, with a message that names it."""


def with_article(noun: str) -> str:
    """``noun`` after "a" or "an", as it is spoken: ``"an Autoencoder"``, ``"a VAE"``, ``"an SAE"``.

    Names spelt as letters (all capitals) take "an" before a letter name that
    starts with a vowel sound (F, H, L, M, N, R, S, X and the vowels).
    """
    if not noun:
        return noun
    first = noun[0]
    spelt = noun[:2].isupper() if len(noun) > 1 else noun.isupper()
    vowel_sound = first in "AEIOUFHLMNRSX" if spelt else first.lower() in "aeiou"
    return f"{'an' if vowel_sound else 'a'} {noun}"


def did_you_mean(name: str, known) -> str:
    """``" (did you mean 'vae'?)"`` for the closest of ``known`` names, or ``""`` when none is close."""
    import difflib

    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
