import Foundation

public struct ChoiceOption: Hashable, Sendable {
    public let code: String
    public let label: String
}

/// The codes of the choice fields. `FieldSpec` says a field is a choice but not which
/// codes it takes; this mirrors core's `value.rs`, and the Kotlin twin of this table
/// (android-demo/shared ChoiceOptions.kt) is checked against the real library by the
/// JVM tests. Keep the two equal.
public enum ChoiceOptions {
    private static func o(_ code: String, _ label: String) -> ChoiceOption { ChoiceOption(code: code, label: label) }
    private static let classes = [o("A", "A类"), o("B", "B类"), o("C", "C类"), o("D", "D类")]
    static let byKey: [String: [ChoiceOption]] = [
        "nature": [o("government", "政府机关"), o("special", "特殊公司"), o("company", "普通公司"), o("individual", "个人")],
        "volume": [o("key", "主力客户"), o("ordinary", "一般客户"), o("scattered", "零散客户")],
        "abc": classes,
        "prospect_class": classes,
        "kind": [o("visit", "拜访"), o("call", "电话"), o("delivery", "送货"), o("collection", "收款"), o("other", "其他")],
    ]
    static let tradeStages = [o("past", "过去客户"), o("current", "现在客户"), o("prospect", "未来客户")]
    static let opportunityStages = [
        o("first_contact", "初次接触"), o("sample_test", "样品测试"), o("negotiation", "商务谈判"),
        o("contract", "签订合同"), o("won", "赢单"), o("lost", "丢单"),
    ]

    public static func forPath(_ path: String) -> [ChoiceOption] {
        let key = String(path.split(separator: ".").last ?? "")
        if key == "stage" { return path.hasPrefix("opportunities.") ? opportunityStages : tradeStages }
        return byKey[key] ?? []
    }

    /// As the library shows a stored code: its label, but a class as its letter.
    public static func shown(path: String, code: String) -> String {
        let key = String(path.split(separator: ".").last ?? "")
        if key == "abc" || key == "prospect_class" { return code }
        return forPath(path).first { $0.code == code }?.label ?? code
    }
}
