import Foundation
import Security

/// The store's 32-byte SQLCipher key, kept in the iOS Keychain.
///
/// `AfterFirstUnlockThisDeviceOnly`: readable by a background refresh while the phone is
/// locked (after the first unlock since boot), and never migrated to another device or
/// an iCloud backup; a restored phone enrols and syncs afresh.
enum KeychainKey {
    private static let service = "fieldbook.store"
    private static let account = "cards.db"

    static func obtain() throws -> Data {
        if let existing = try read() { return existing }
        var bytes = Data(count: 32)
        let status = bytes.withUnsafeMutableBytes { SecRandomCopyBytes(kSecRandomDefault, 32, $0.baseAddress!) }
        guard status == errSecSuccess else { throw KeychainError(status: status) }
        let add: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            kSecValueData as String: bytes,
        ]
        let added = SecItemAdd(add as CFDictionary, nil)
        guard added == errSecSuccess else { throw KeychainError(status: added) }
        return bytes
    }

    private static func read() throws -> Data? {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecReturnData as String: true,
            kSecMatchLimit as String: kSecMatchLimitOne,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        if status == errSecItemNotFound { return nil }
        guard status == errSecSuccess, let data = item as? Data, data.count == 32 else { throw KeychainError(status: status) }
        return data
    }
}

struct KeychainError: Error { let status: OSStatus }
