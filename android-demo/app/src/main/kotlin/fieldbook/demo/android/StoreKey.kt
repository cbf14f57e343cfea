package fieldbook.demo.android

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import java.io.File
import java.security.KeyStore
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The store's 32-byte SQLCipher key, wrapped by a key that never leaves Android Keystore.
 *
 * SQLCipher needs the raw key bytes in our process, so the Keystore cannot hold the
 * database key itself: it holds an AES-256-GCM wrapping key (hardware-backed where the
 * phone has it), and the database key is stored wrapped in app-private, no-backup
 * storage. A copied file is useless without this device's Keystore.
 */
class StoreKey(private val wrappedFile: File) {

    /** The database key: unwrapped if it exists, else generated, wrapped and saved. */
    fun obtain(): ByteArray {
        val wrapping = wrappingKey()
        if (wrappedFile.exists()) return unwrap(wrapping, wrappedFile.readBytes())
        val key = ByteArray(KEY_BYTES).also { SecureRandom().nextBytes(it) }
        val tmp = File(wrappedFile.path + ".tmp")
        tmp.writeBytes(wrap(wrapping, key))
        // Rename: a crash mid-write must not leave half a key that opens nothing.
        check(tmp.renameTo(wrappedFile)) { "could not store the wrapped key" }
        return key
    }

    private fun wrappingKey(): SecretKey {
        val keyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }
        (keyStore.getKey(ALIAS, null) as SecretKey?)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        generator.init(
            KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                // No user-authentication requirement: background sync must open the
                // store while the phone is locked in a pocket.
                .build(),
        )
        return generator.generateKey()
    }

    /** `[iv length][iv][ciphertext+tag]`; the Keystore picks the IV. */
    private fun wrap(wrapping: SecretKey, key: ByteArray): ByteArray {
        val cipher = Cipher.getInstance(TRANSFORMATION).apply { init(Cipher.ENCRYPT_MODE, wrapping) }
        val iv = cipher.iv
        return byteArrayOf(iv.size.toByte()) + iv + cipher.doFinal(key)
    }

    private fun unwrap(wrapping: SecretKey, blob: ByteArray): ByteArray {
        val ivLength = blob[0].toInt()
        val iv = blob.copyOfRange(1, 1 + ivLength)
        val cipher = Cipher.getInstance(TRANSFORMATION).apply {
            init(Cipher.DECRYPT_MODE, wrapping, GCMParameterSpec(128, iv))
        }
        return cipher.doFinal(blob, 1 + ivLength, blob.size - 1 - ivLength).also {
            check(it.size == KEY_BYTES) { "the wrapped key has the wrong length" }
        }
    }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val ALIAS = "fieldbook-store-wrap"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val KEY_BYTES = 32
    }
}
