/*
 * Exact path-dependent TreeSHAP for LightGBM forests, a leaf at a time.
 *
 * LightGBM's pred_contrib walks every tree with Lundberg's recursive algorithm, O(L D^2) per
 * tree and row. Here each leaf's share is looked up instead: for a leaf whose path tests d
 * distinct features, its contribution to each of them depends only on which of those features
 * the row satisfies (a d-bit mask), on the features' cover fractions and on the leaf value. So
 * the d values are tabulated once per leaf for all 2^d masks (``leaf_table``), and a row costs
 * one pass over the tree's nodes in preorder (each node's mask from its parent's) plus d
 * additions per leaf. Leaves with too many distinct features for a table are computed on the
 * fly with the same formula (O(d^2)).
 *
 * The forest arrives flattened by leadloop/model/treeshap.py, every tree in preorder:
 *   parent[k], side[k]     the parent node (-1 at a root) and which child k is (0 left, 1 right)
 *   feature[k]             the split feature of an internal node, -1 at a leaf
 *   kind[k]                bit 0 categorical, bit 1 default left, bits 2-3 missing type
 *                          (0 none, 1 zero, 2 NaN), as LightGBM's decision_type
 *   threshold[k]           numerical threshold
 *   cat_start[k], cat_words[k]  a categorical split's left categories as 32-bit words
 *   slot[k], fresh[k]      the path bit of node k's feature, and whether the path meets the
 *                          feature for the first time at k
 *   leaf_d[k]              at a leaf: the number of distinct path features
 *   leaf_path[k]           at a leaf: offset of its features (path_feature) and fractions (path_zero)
 *   leaf_table[k]          at a leaf: offset of its table in ``tables``, or -1 (on the fly)
 *   leaf_value[k]          at a leaf: its output
 * The caller adds the expected values (the bias column); this module adds per-feature values.
 *
 * ``margins`` walks the same trees for the plain prediction (leadloop/model/walk.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_PATH 64
#define ZERO_THRESHOLD 1.0000000180025095e-35 /* LightGBM's kZeroThreshold (1e-35f) */

/* Path weights of Lundberg's EXTEND for a path of n features (plus the root's unit entry). */
static void extend_all(int n, const double *zero, const double *one, double *w) {
    w[0] = 1.0;
    for (int depth = 1; depth <= n; depth++) {
        double z = zero[depth - 1], o = one[depth - 1];
        w[depth] = 0.0;
        for (int i = depth - 1; i >= 0; i--) {
            w[i + 1] += o * w[i] * (double)(i + 1) / (double)(depth + 1);
            w[i] = z * w[i] * (double)(depth - i) / (double)(depth + 1);
        }
    }
}

/* Lundberg's UNWOUND_PATH_SUM: the weight of feature ``j`` with the others' path weights. */
static double unwound_sum(int n, const double *w, double z, double o) {
    double total = 0.0, next = w[n];
    for (int i = n - 1; i >= 0; i--) {
        if (o != 0.0) {
            double tmp = next * (double)(n + 1) / ((double)(i + 1) * o);
            total += tmp;
            next = w[i] - tmp * z * (double)(n - i) / (double)(n + 1);
        } else if (z != 0.0) {
            total += (w[i] / z) / ((double)(n - i) / (double)(n + 1));
        }
    }
    return total;
}

/* One leaf's contributions to its d path features for a satisfied-feature mask. */
static void leaf_share(int d, const double *zero, double value, uint64_t mask, double *out) {
    double one[MAX_PATH], w[MAX_PATH + 1];
    for (int j = 0; j < d; j++) one[j] = (double)((mask >> j) & 1u);
    extend_all(d, zero, one, w);
    for (int j = 0; j < d; j++) {
        double sum = unwound_sum(d, w, zero[j], one[j]);
        out[j] = sum * (one[j] - zero[j]) * value;
    }
}

static int goes_right(const int32_t *kind, const double *threshold, const int32_t *cat_start,
                      const int32_t *cat_words, const uint32_t *cat_bits, int k, double x) {
    int flags = kind[k];
    int missing = (flags >> 2) & 3;
    if (flags & 1) { /* categorical: NaN and negatives go right, the listed codes left */
        if (isnan(x)) return 1;
        if (x < 0.0 || x >= 2147483647.0) return 1;
        int code = (int)x;
        int word = code / 32;
        if (word >= cat_words[k]) return 1;
        return ((cat_bits[cat_start[k] + word] >> (code % 32)) & 1u) ? 0 : 1;
    }
    if (isnan(x) && missing != 2) x = 0.0;
    if (fabs(x) <= ZERO_THRESHOLD) x = 0.0;
    if ((missing == 1 && x == 0.0) || (missing == 2 && isnan(x))) return (flags & 2) ? 0 : 1;
    return x <= threshold[k] ? 0 : 1;
}

typedef struct {
    Py_buffer view[20];
    int count;
} Buffers;

static void release(Buffers *b) {
    for (int i = 0; i < b->count; i++) PyBuffer_Release(&b->view[i]);
}

static int take(Buffers *b, PyObject *obj, int writable, Py_ssize_t item) {
    Py_buffer *view = &b->view[b->count];
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) return -1;
    b->count++;
    if (view->itemsize != item) {
        PyErr_SetString(PyExc_TypeError, "buffer has the wrong item size");
        return -1;
    }
    return 0;
}

static PyObject *leaf_table(PyObject *self, PyObject *args) {
    PyObject *zero_obj, *out_obj;
    double value;
    if (!PyArg_ParseTuple(args, "OdO", &zero_obj, &value, &out_obj)) return NULL;
    Buffers b = {.count = 0};
    if (take(&b, zero_obj, 0, 8) || take(&b, out_obj, 1, 8)) {
        release(&b);
        return NULL;
    }
    Py_ssize_t d = b.view[0].len / 8;
    if (d > 30 || b.view[1].len / 8 != ((Py_ssize_t)1 << d) * d) {
        release(&b);
        PyErr_SetString(PyExc_ValueError, "the table must hold 2**d rows of d values");
        return NULL;
    }
    const double *zero = b.view[0].buf;
    double *out = b.view[1].buf;
    for (uint64_t mask = 0; mask < ((uint64_t)1 << d); mask++)
        leaf_share((int)d, zero, value, mask, out + mask * (uint64_t)d);
    release(&b);
    Py_RETURN_NONE;
}

typedef struct {
    const int32_t *parent, *side, *feature, *kind, *cat_start, *cat_words, *slot, *fresh;
    const int32_t *leaf_d, *leaf_path, *path_feature, *tree_start;
    const int64_t *leaf_table;
    const double *threshold, *leaf_value, *path_zero, *tables;
    const uint32_t *cat_bits;
    int n_trees, max_nodes;
} Forest;

/* One tree's values for one row, added to ``out``; mask and go are scratch of the tree's size. */
static void shap_tree(const Forest *f, int t, const double *x, double *out, uint64_t *mask,
                      int8_t *go) {
    int base = f->tree_start[t], end = f->tree_start[t + 1];
    mask[0] = 0;
    for (int k = base; k < end; k++) {
        int i = k - base;
        if (k > base) {
            int p = f->parent[k];
            uint64_t bit = (uint64_t)1 << f->slot[p];
            uint64_t before = f->fresh[p] ? 1 : ((mask[p - base] & bit) ? 1 : 0);
            uint64_t sat = (go[p - base] == f->side[k]) ? before : 0;
            mask[i] = (mask[p - base] & ~bit) | (sat ? bit : 0);
        }
        if (f->feature[k] >= 0) {
            go[i] = (int8_t)goes_right(f->kind, f->threshold, f->cat_start, f->cat_words,
                                       f->cat_bits, k, x[f->feature[k]]);
            continue;
        }
        int d = f->leaf_d[k];
        const int32_t *feats = f->path_feature + f->leaf_path[k];
        if (f->leaf_table[k] >= 0) {
            const double *row = f->tables + f->leaf_table[k] + mask[i] * (uint64_t)d;
            for (int j = 0; j < d; j++) out[feats[j]] += row[j];
        } else {
            double share[MAX_PATH];
            leaf_share(d, f->path_zero + f->leaf_path[k], f->leaf_value[k], mask[i], share);
            for (int j = 0; j < d; j++) out[feats[j]] += share[j];
        }
    }
}

/* Rows in blocks, trees in the outer loop of a block: a tree's tables stay in cache while
 * the block's rows use them. */
#define BLOCK 256
static void shap_rows(const Forest *f, const double *rows, Py_ssize_t n_cols, double *out,
                      Py_ssize_t n_out, Py_ssize_t start, Py_ssize_t end, uint64_t *mask,
                      int8_t *go) {
    for (Py_ssize_t first = start; first < end; first += BLOCK) {
        Py_ssize_t last = first + BLOCK < end ? first + BLOCK : end;
        for (int t = 0; t < f->n_trees; t++) {
            if (f->tree_start[t + 1] - f->tree_start[t] < 2) continue; /* a constant tree */
            for (Py_ssize_t r = first; r < last; r++)
                shap_tree(f, t, rows + r * n_cols, out + r * n_out, mask, go);
        }
    }
}

#define N_ARRAYS 18
/* Item sizes of the forest's arrays, in the order of the Forest struct's fields. */
static const Py_ssize_t ITEM[N_ARRAYS] = {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 4};

/* Takes a call's buffers: ``n`` arrays of ``items``-sized entries (their pointers into ``v``),
 * then a 2-d float64 matrix and a float64 output of ``out_ndim`` dimensions with as many rows,
 * and checks rows [start, end) lie in the matrix. -1 with an exception set on failure (the
 * caller releases ``b`` either way). */
static int take_call(Buffers *b, PyObject *arrays, int n, const Py_ssize_t *items,
                     PyObject *matrix_obj, PyObject *out_obj, int out_ndim, Py_ssize_t start,
                     Py_ssize_t end, void **v) {
    if (PyTuple_GET_SIZE(arrays) != n) {
        PyErr_Format(PyExc_ValueError, "the trees must come as %d arrays", n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (take(b, PyTuple_GET_ITEM(arrays, i), 0, items[i])) return -1;
        v[i] = b->view[i].buf;
    }
    if (take(b, matrix_obj, 0, 8) || take(b, out_obj, 1, 8)) return -1;
    Py_buffer *matrix = &b->view[n], *out = &b->view[n + 1];
    if (matrix->ndim != 2 || out->ndim != out_ndim || matrix->shape[0] != out->shape[0] ||
        start < 0 || end > matrix->shape[0] || start > end) {
        PyErr_SetString(PyExc_ValueError, "a 2-d matrix and an output with as many rows");
        return -1;
    }
    return 0;
}

static PyObject *contributions(PyObject *self, PyObject *args) {
    PyObject *arrays, *matrix_obj, *out_obj;
    int n_trees, max_nodes;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "O!OOiinn", &PyTuple_Type, &arrays, &matrix_obj, &out_obj,
                          &n_trees, &max_nodes, &start, &end))
        return NULL;
    Buffers b = {.count = 0};
    void *v[N_ARRAYS];
    if (take_call(&b, arrays, N_ARRAYS, ITEM, matrix_obj, out_obj, 2, start, end, v)) goto fail;
    Py_buffer *matrix = &b.view[N_ARRAYS], *out = &b.view[N_ARRAYS + 1];
    Forest f = {
        .parent = v[0], .side = v[1], .feature = v[2], .kind = v[3], .cat_start = v[4],
        .cat_words = v[5], .slot = v[6], .fresh = v[7], .leaf_d = v[8], .leaf_path = v[9],
        .path_feature = v[10], .tree_start = v[11], .leaf_table = v[12], .threshold = v[13],
        .leaf_value = v[14], .path_zero = v[15], .tables = v[16], .cat_bits = v[17],
        .n_trees = n_trees, .max_nodes = max_nodes,
    };
    Py_ssize_t n_cols = matrix->shape[1], n_out = out->shape[1];
    const double *rows = matrix->buf;
    double *sums = out->buf;
    uint64_t *mask = PyMem_RawMalloc(sizeof(uint64_t) * (size_t)(max_nodes + 1));
    int8_t *go = PyMem_RawMalloc((size_t)(max_nodes + 1));
    if (mask == NULL || go == NULL) {
        PyMem_RawFree(mask);
        PyMem_RawFree(go);
        PyErr_NoMemory();
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    shap_rows(&f, rows, n_cols, sums, n_out, start, end, mask, go);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(mask);
    PyMem_RawFree(go);
    release(&b);
    Py_RETURN_NONE;
fail:
    release(&b);
    return NULL;
}

/* Margins: for each row, the sum over trees of the leaf it reaches, added in tree order as
 * LightGBM's predict (raw_score) adds them. The trees come as LightGBM's own text model lays
 * them out (leadloop/model/walk.py): per tree a block of split nodes and a block of leaves; a
 * child >= 0 is a split node of the same tree, a child < 0 is leaf ~child. */
typedef struct {
    const int32_t *feature, *left, *right, *kind, *cat_start, *cat_words, *node_start,
        *leaf_start;
    const double *threshold, *leaf_value;
    const uint32_t *cat_bits;
    int n_trees;
} Walk;

static double walk_tree(const Walk *w, int t, const double *x) {
    int base = w->node_start[t];
    if (w->node_start[t + 1] == base) return w->leaf_value[w->leaf_start[t]]; /* one leaf */
    int node = 0;
    while (node >= 0) {
        int k = base + node;
        node = goes_right(w->kind, w->threshold, w->cat_start, w->cat_words, w->cat_bits, k,
                          x[w->feature[k]])
                   ? w->right[k]
                   : w->left[k];
    }
    return w->leaf_value[w->leaf_start[t] + ~node];
}

/* Rows in blocks, trees in the outer loop of a block: a tree stays in cache while the block's
 * rows walk it; each row still adds its trees' values in tree order. */
static void walk_rows(const Walk *w, const double *rows, Py_ssize_t n_cols, double *out,
                      Py_ssize_t start, Py_ssize_t end) {
    for (Py_ssize_t first = start; first < end; first += BLOCK) {
        Py_ssize_t last = first + BLOCK < end ? first + BLOCK : end;
        for (int t = 0; t < w->n_trees; t++)
            for (Py_ssize_t r = first; r < last; r++) out[r] += walk_tree(w, t, rows + r * n_cols);
    }
}

#define N_WALK 11
static const Py_ssize_t WALK_ITEM[N_WALK] = {4, 4, 4, 4, 4, 4, 4, 4, 8, 8, 4};

static PyObject *margins(PyObject *self, PyObject *args) {
    PyObject *arrays, *matrix_obj, *out_obj;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "O!OOnn", &PyTuple_Type, &arrays, &matrix_obj, &out_obj, &start,
                          &end))
        return NULL;
    Buffers b = {.count = 0};
    void *v[N_WALK];
    if (take_call(&b, arrays, N_WALK, WALK_ITEM, matrix_obj, out_obj, 1, start, end, v)) goto fail;
    Py_buffer *matrix = &b.view[N_WALK], *out = &b.view[N_WALK + 1];
    Walk w = {
        .feature = v[0], .left = v[1], .right = v[2], .kind = v[3], .cat_start = v[4],
        .cat_words = v[5], .node_start = v[6], .leaf_start = v[7], .threshold = v[8],
        .leaf_value = v[9], .cat_bits = v[10],
        .n_trees = (int)(b.view[6].len / 4) - 1,
    };
    Py_ssize_t n_cols = matrix->shape[1];
    const double *rows = matrix->buf;
    double *sums = out->buf;
    Py_BEGIN_ALLOW_THREADS
    walk_rows(&w, rows, n_cols, sums, start, end);
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
fail:
    release(&b);
    return NULL;
}

static PyMethodDef methods[] = {
    {"leaf_table", leaf_table, METH_VARARGS,
     "leaf_table(zero, value, out): a leaf's contributions for every satisfied-feature mask."},
    {"contributions", contributions, METH_VARARGS,
     "contributions(arrays, matrix, out, n_trees, max_nodes, start, end): add TreeSHAP values."},
    {"margins", margins, METH_VARARGS,
     "margins(arrays, matrix, out, start, end): add each row's leaf values, tree by tree."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_treeshap",
                                    "Exact TreeSHAP and margins for LightGBM forests.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__treeshap(void) { return PyModule_Create(&module); }
