"""Generates random.json: randomized, Unicode-heavy cases scored by the reference implementations.

Needs sacrebleu 2.6.0, a rouge_score-compatible scorer and nltk on sys.path (set EXTRA_PATH, ':'-separated).
Characters are drawn only from blocks whose Unicode properties did not change between Unicode 14 and 16, so the
values do not depend on the Python or `regex` build's Unicode version.
Usage: python3 generate.py SEED N_BLEU_CASES N_ROUGE_CASES > random.json
"""
import json, logging, os, random, sys

sys.path[:0] = [p for p in os.environ.get('EXTRA_PATH', '').split(':') if p]
logging.disable(logging.CRITICAL)
from sacrebleu.metrics import BLEU, CHRF  # noqa: E402

try:
    from rouge_score import rouge_scorer  # noqa: E402
    def make_scorer(types, stem):
        try:
            return rouge_scorer.RougeScorer(types, use_stemmer=stem)
        except TypeError:  # forks that take a language first
            return rouge_scorer.RougeScorer('en', types, use_stemmer=stem)
except ImportError:
    make_scorer = None

seed, n_bleu, n_rouge = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
RANGES = [(0x21, 0x7E)] * 6 + [
    (0xA0, 0xFF), (0x2000, 0x2064), (0x370, 0x3FF), (0x3000, 0x303F), (0x20A0, 0x20BF), (0x2190, 0x22FF),
    (0x1F600, 0x1F64F), (0x10100, 0x10102), (0x1D7CE, 0x1D7FF), (0x1E95E, 0x1E95F), (0x660, 0x669),
    (0x2160, 0x2188), (0xB2, 0xB3), (0x300, 0x36F), (0x4E00, 0x4E20), (0x1C, 0x1F), (0x85, 0x85),
    (0x130, 0x131), (0x3A3, 0x3A3), (0x212A, 0x212B), (0xFF01, 0xFF20)]
WORDS = ("the cat sat on mat Dog RAN fast 3.5 1,000 12-14 e.g. U.S. don't &quot;hi&quot; &amp; <skipped> "
         "well-\nknown Σοφία ΟΔΟΣ İstanbul café naïve (hi) end.").split(' ')


def token():
    if rnd.random() < 0.55:
        return rnd.choice(WORDS)
    return ''.join(chr(rnd.randint(*rnd.choice(RANGES))) for _ in range(rnd.randint(1, 4)))


def segment():
    seps = [' ', ' ', ' ', '  ', '\t', '\u00a0', '\u3000', '']
    return ''.join(token() + rnd.choice(seps) for _ in range(rnd.randint(0, 14)))


def mutate(s):
    t = s.split(' ')
    for _ in range(rnd.randint(0, 4)):
        if t and rnd.random() < 0.5:
            t.pop(rnd.randrange(len(t)))
        else:
            t.insert(rnd.randint(0, len(t)), token())
    return ' '.join(t)


def bleu_result(s, line=True):
    r = {'score': s.score, 'counts': [float(x) for x in s.counts], 'totals': [float(x) for x in s.totals],
            'precisions': s.precisions, 'bp': s.bp, 'sys_len': s.sys_len, 'ref_len': s.ref_len,
            'line': s.format(signature='SIG')}
    if not line:
        del r['line']
    return r


bleu_cases = []
for _ in range(n_bleu):
    nseg, nref = rnd.randint(1, 4), rnd.choice([1, 1, 2, 3])
    hyps = [segment() for _ in range(nseg)]
    refs = [[mutate(h) if rnd.random() < 0.8 else segment() for _ in range(nref)] for h in hyps]
    streams = [[refs[i][k] for i in range(nseg)] for k in range(nref)]
    case = {'hypotheses': hyps, 'references': refs, 'bleu': [], 'chrf': []}
    for tok in ['13a', 'intl', 'char', 'none']:
        for lc in [False, True]:
            for sm, sv in [('exp', None), ('floor', None), ('add-k', None), ('none', None), ('floor', 0.37), ('add-k', 0.5)]:
                opts = dict(tokenize=tok, lowercase=lc, smooth_method=sm, smooth_value=sv)
                corpus = BLEU(**opts)
                sentence = BLEU(effective_order=True, **opts)
                case['bleu'].append({
                    'options': opts,
                    'corpus': bleu_result(corpus.corpus_score(hyps, streams)),
                    'signature': str(corpus.get_signature()),
                    'sentence': [bleu_result(sentence.sentence_score(h, r), line=False) for h, r in zip(hyps, refs)]
                    if sv is None and sm in ('exp', 'floor') else []})
    for wo in [0, 2]:
        for lc in [False, True]:
            c = CHRF(word_order=wo, lowercase=lc)
            s = c.corpus_score(hyps, streams)
            case['chrf'].append({'options': {'word_order': wo, 'lowercase': lc}, 'signature': str(c.get_signature()),
                                 'corpus': {'score': s.score, 'line': s.format(signature='SIG')},
                                 'sentence': [c.sentence_score(h, r).score for h, r in zip(hyps, refs)]})
    bleu_cases.append(case)

VOCAB = ("a the cat cats sat sitting on mat mats running runs runner organization organizes happily happy "
         "generously sky skies dying lying news Apple APPLE café İstanbul \u212Aelvin don't x-ray 42 3.5 ε Σ").split()
TYPES = ['rouge1', 'rouge2', 'rouge3', 'rougeL', 'rougeLsum']


def line():
    return ' '.join(rnd.choice(VOCAB[:rnd.choice([6, 12, len(VOCAB)])]) for _ in range(rnd.randint(0, 8)))


def text():
    return rnd.choice(['\n', '\n', '\n\n', ' \n']).join(line() for _ in range(rnd.randint(1, 4)))


rouge_cases = []
for _ in range(n_rouge if make_scorer else 0):
    n = rnd.randint(1, 3)
    hyps = [text() for _ in range(n)]
    refs = [[text() for _ in range(rnd.choice([1, 1, 2, 3]))] for _ in range(n)]
    case = {'hypotheses': hyps, 'references': refs, 'rouge': []}
    for stem in [False, True]:
        scorer = make_scorer(TYPES, stem)
        pairs = []
        for h, rs in zip(hyps, refs):
            all_scores = [scorer.score(r, h) for r in rs]  # rouge_score's order: target first
            best = {}
            for t in TYPES:  # score_multi: highest fmeasure, first on ties
                f = [d[t].fmeasure for d in all_scores]
                best[t] = list(all_scores[f.index(max(f))][t])
            pairs.append(best)
        case['rouge'].append({'use_stemmer': stem, 'types': TYPES, 'per_pair': pairs})
    rouge_cases.append(case)

json.dump({'seed': seed, 'bleu_chrf': bleu_cases, 'rouge': rouge_cases}, sys.stdout, ensure_ascii=False)
