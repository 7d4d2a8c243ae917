/*
 * The architecture tables (src/model/arch/): tensor names against
 * llama.cpp's spelling (src/llama-arch.cpp, written out here), name <->
 * role round trips, the registry, and the consistency every arch file must
 * have (unique roles, block norms that are [n_embd] float tensors of the
 * arch, the tensors each block kind reads).
 */
#include "test.h"

#include "model/arch/arch.h"

static void test_names(void)
{
    char buf[96];
    CHECK_STR(fr_tn_name(FR_T_TOKEN_EMBD, 5, buf, sizeof buf), "token_embd.weight");
    CHECK_STR(fr_tn_name(FR_T_ATTN_Q, 3, buf, sizeof buf), "blk.3.attn_q.weight");
    CHECK_STR(fr_tn_name(FR_T_ATTN_OUT, 0, buf, sizeof buf), "blk.0.attn_output.weight");
    CHECK_STR(fr_tn_name(FR_T_ATTN_Q_B, 11, buf, sizeof buf), "blk.11.attn_q.bias");
    CHECK_STR(fr_tn_name(FR_T_ATTN_POST_NORM, 2, buf, sizeof buf),
              "blk.2.post_attention_norm.weight");
    CHECK_STR(fr_tn_name(FR_T_FFN_POST_NORM, 2, buf, sizeof buf), "blk.2.post_ffw_norm.weight");
    CHECK_STR(fr_tn_name(FR_T_ATTN_SINKS, 1, buf, sizeof buf), "blk.1.attn_sinks.weight");
    CHECK_STR(fr_tn_name(FR_T_FFN_GATE_INP_B, 1, buf, sizeof buf), "blk.1.ffn_gate_inp.bias");
    CHECK_STR(fr_tn_name(FR_T_FFN_DOWN_EXPS, 4, buf, sizeof buf), "blk.4.ffn_down_exps.weight");
    CHECK_STR(fr_tn_name(FR_T_ROPE_FACTORS_LONG, 4, buf, sizeof buf), "rope_factors_long.weight");

    /* every role's name parses back to it, in any layer below n_layer */
    for (int t = 0; t < FR_T_COUNT_; t++)
        for (uint32_t l = 0; l < 13; l += 6) {
            fr_tn_name((fr_tn)t, l, buf, sizeof buf);
            fr_tn got;
            uint32_t gl = 99;
            bool ok = fr_tn_parse(buf, 13, &got, &gl);
            CHECK_MSG(ok && got == (fr_tn)t && gl == (t < FR_T_LAYER_ ? 0 : l), "%s", buf);
        }
    fr_tn t;
    uint32_t l;
    CHECK(!fr_tn_parse("blk.3.attn_q.weight", 3, &t, &l));  /* layer out of range */
    CHECK(!fr_tn_parse("blk.01.attn_q.weight", 3, &t, &l)); /* not llama.cpp's spelling */
    CHECK(!fr_tn_parse("blk..attn_q.weight", 3, &t, &l));
    CHECK(!fr_tn_parse("blk.1attn_q.weight", 3, &t, &l));
    CHECK(!fr_tn_parse("attn_q.weight", 3, &t, &l));
    CHECK(!fr_tn_parse("blk.1.attn_q.weight.lora_a", 3, &t, &l));
    CHECK(!fr_tn_parse("blk.99999999999999999999.attn_q.weight", 3, &t, &l));
    CHECK(!fr_tn_parse("blk.1.token_embd.weight", 3, &t, &l)); /* a whole-model role */
    CHECK(fr_tn_parse("blk.10.ffn_up.weight", 11, &t, &l) && t == FR_T_FFN_UP && l == 10);
}

static void test_registry(void)
{
    CHECK_STR(fr_model_supported_archs(), "llama, qwen2, qwen3");
    size_t n;
    const fr_arch *const *all = fr_arch_all(&n);
    CHECK(n >= 3);
    for (size_t i = 0; i < n; i++)
        CHECK(fr_arch_find(all[i]->name) == all[i]);
    CHECK(fr_arch_find("gpt2") == NULL);
    CHECK(fr_arch_find("") == NULL);
}

static bool has_float_vec(const fr_arch *a, fr_tn t)
{
    const fr_tensor_spec *sp = fr_arch_tensor(a, t);
    return sp && (sp->flags & FR_FLOAT) && sp->ne[0] == FR_D_E && sp->ne[1] == FR_D_1;
}

static bool has_req(const fr_arch *a, fr_tn t)
{
    const fr_tensor_spec *sp = fr_arch_tensor(a, t);
    return sp && (sp->flags & FR_REQ);
}

static void test_arch_tables(void)
{
    size_t n;
    const fr_arch *const *all = fr_arch_all(&n);
    for (size_t i = 0; i < n; i++) {
        const fr_arch *a = all[i];
        bool seen[FR_T_COUNT_] = {false};
        for (size_t k = 0; k < a->n_tensors; k++) {
            fr_tn t = a->tensors[k].role;
            CHECK_MSG(t >= 0 && t < FR_T_COUNT_ && !seen[t], "%s: role %d twice", a->name, t);
            if (t >= 0 && t < FR_T_COUNT_)
                seen[t] = true;
        }
        CHECK_MSG(has_req(a, FR_T_TOKEN_EMBD) && has_req(a, FR_T_OUTPUT_NORM), "%s", a->name);
        CHECK_MSG(a->n_blocks >= 1, "%s: empty layer", a->name);
        for (size_t b = 0; b < a->n_blocks; b++) {
            const fr_block *blk = &a->layer[b];
            CHECK_MSG(has_float_vec(a, blk->pre) && has_req(a, blk->pre), "%s block %zu pre",
                      a->name, b);
            CHECK_MSG(blk->post == FR_T_NONE ||
                          (has_float_vec(a, blk->post) && has_req(a, blk->post)),
                      "%s block %zu post", a->name, b);
            switch (blk->kind) {
            case FR_BLK_ATTN:
                CHECK_MSG(has_req(a, FR_T_ATTN_OUT) &&
                              (has_req(a, FR_T_ATTN_QKV) ||
                               (has_req(a, FR_T_ATTN_Q) && has_req(a, FR_T_ATTN_K) &&
                                has_req(a, FR_T_ATTN_V))),
                          "%s: attention tensors", a->name);
                break;
            case FR_BLK_FFN:
                CHECK_MSG(has_req(a, FR_T_FFN_UP) && has_req(a, FR_T_FFN_DOWN),
                          "%s: feed-forward tensors", a->name);
                break;
            }
        }
    }
}

int main(void)
{
    test_names();
    test_registry();
    test_arch_tables();
    TEST_END();
}
