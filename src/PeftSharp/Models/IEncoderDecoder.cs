using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// What generation needs to know about an encoder-decoder model: encode the source once, and which
/// token starts every decoder sequence. Decoder-only models simply don't implement it.
/// </summary>
public interface IEncoderDecoder
{
    Tensor Encode(ModelInputs inputs);
    long DecoderStartTokenId { get; }
}
