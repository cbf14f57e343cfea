import Foundation

public struct ChoiceOption: Hashable, Sendable {
    public let code: String
    public let label: String
}

/// The options of the choice fields, from the card schema the library exports
/// (`FieldSpec.choices`): core's own table, so a picker never offers a code the library
/// refuses. Same logic as android-demo/shared ChoiceOptions.kt, which the JVM tests check.
public enum ChoiceOptions {
    /// Schema path (`opportunities.*.stage`) → its options.
    static let bySchemaPath: [String: [ChoiceOption]] = {
        var out: [String: [ChoiceOption]] = [:]
        for spec in cardSchema() where !spec.choices.isEmpty {
            out[spec.path] = spec.choices.map { ChoiceOption(code: $0.code, label: $0.label) }
        }
        return out
    }()

    /// `opportunities.<id>.stage` → `opportunities.*.stage`; section paths unchanged.
    static func schemaPath(_ path: String) -> String {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 ? "\(parts[0]).*.\(parts[2])" : path
    }

    public static func forPath(_ path: String) -> [ChoiceOption] {
        bySchemaPath[schemaPath(path)] ?? []
    }

    /// As the library shows a stored code: its label, but a class as its letter.
    public static func shown(path: String, code: String) -> String {
        let key = String(path.split(separator: ".").last ?? "")
        if key == "abc" || key == "prospect_class" { return code }
        return forPath(path).first { $0.code == code }?.label ?? code
    }
}
