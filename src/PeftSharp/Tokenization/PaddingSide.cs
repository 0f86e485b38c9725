namespace PeftSharp.Tokenization;

/// <summary>
/// Which end of a sequence padding goes to or truncation cuts from. Decoder-only models generate from the right end,
/// so batched generation pads on the left; training usually pads on the right.
/// </summary>
public enum PaddingSide
{
    Right,
    Left,
}
