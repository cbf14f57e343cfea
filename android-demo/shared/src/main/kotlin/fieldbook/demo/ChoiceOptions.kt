package fieldbook.demo

/** One code of a choice field and its label, as a picker offers it. */
data class ChoiceOption(val code: String, val label: String)

/**
 * The codes of the choice fields, by field key.
 *
 * `FieldSpec` says a field is a `CHOICE` but not which codes it takes, so a picker
 * needs this table. It mirrors core's `value.rs` (the library accepts the code or the
 * label); the JVM tests write every option through the real library, so a code core
 * drops or renames fails a test instead of a rep's edit.
 */
object ChoiceOptions {
    private val classes = listOf(
        ChoiceOption("A", "A类"),
        ChoiceOption("B", "B类"),
        ChoiceOption("C", "C类"),
        ChoiceOption("D", "D类"),
    )

    val byKey: Map<String, List<ChoiceOption>> = mapOf(
        "nature" to listOf(
            ChoiceOption("government", "政府机关"),
            ChoiceOption("special", "特殊公司"),
            ChoiceOption("company", "普通公司"),
            ChoiceOption("individual", "个人"),
        ),
        "volume" to listOf(
            ChoiceOption("key", "主力客户"),
            ChoiceOption("ordinary", "一般客户"),
            ChoiceOption("scattered", "零散客户"),
        ),
        "abc" to classes,
        "prospect_class" to classes,
        "kind" to listOf(
            ChoiceOption("visit", "拜访"),
            ChoiceOption("call", "电话"),
            ChoiceOption("delivery", "送货"),
            ChoiceOption("collection", "收款"),
            ChoiceOption("other", "其他"),
        ),
    )

    /** A card's trade stage (`classification.stage`). */
    val tradeStages = listOf(
        ChoiceOption("past", "过去客户"),
        ChoiceOption("current", "现在客户"),
        ChoiceOption("prospect", "未来客户"),
    )

    /** An opportunity's stage (`opportunities.*.stage`). */
    val opportunityStages = listOf(
        ChoiceOption("first_contact", "初次接触"),
        ChoiceOption("sample_test", "样品测试"),
        ChoiceOption("negotiation", "商务谈判"),
        ChoiceOption("contract", "签订合同"),
        ChoiceOption("won", "赢单"),
        ChoiceOption("lost", "丢单"),
    )

    /**
     * How the library shows a stored code: its label, except a class, which reads as
     * its letter (core's `rules::choice_label`).
     */
    fun shown(path: String, code: String): String {
        val key = path.substringAfterLast('.')
        if (key == "abc" || key == "prospect_class") return code
        return forPath(path)?.firstOrNull { it.code == code }?.label ?: code
    }

    /** The options of the field at a schema path (`classification.stage`, `opportunities.*.stage`). */
    fun forPath(path: String): List<ChoiceOption>? {
        val key = path.substringAfterLast('.')
        if (key == "stage") return if (path.startsWith("opportunities.")) opportunityStages else tradeStages
        return byKey[key]
    }
}
