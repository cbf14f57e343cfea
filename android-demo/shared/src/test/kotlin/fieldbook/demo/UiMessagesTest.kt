package fieldbook.demo

import fieldbook.FieldbookException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** Typed errors from the real library, as the rep reads them. */
class UiMessagesTest {
    private lateinit var phones: DemoPhones
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    @BeforeEach
    fun start() {
        phones = DemoPhones()
    }

    @AfterEach
    fun stop() {
        scope.cancel()
        phones.close()
    }

    @Test
    fun `a used or unknown enrolment token asks for a new one`() = runBlocking {
        val session = FieldbookSession(phones.open("enrol"))
        val enrol = EnrolViewModel(session)
        enrol.update { it.copy(serverUrl = phones.server.url, token = "not-a-token") }
        assertNull(enrol.enrol())
        val refused = enrol.state.value.message!!
        assertEquals(MessageKind.ENROL, refused.kind)
        assertEquals("登记码无效或已过期，请向主管索取新的登记码", refused.text)
        assertTrue(refused.code!!.startsWith("auth."))

        val token = phones.server.token("zhangwei")
        enrol.update { it.copy(token = " $token\n") }
        assertEquals("zhangwei", enrol.enrol()!!.repId, "a pasted token with spaces is trimmed")
        assertEquals("", enrol.state.value.token, "the one-time token is not kept on screen")

        enrol.update { it.copy(token = token) }
        assertNull(enrol.enrol(), "a token works once")
        assertEquals(MessageKind.ENROL, enrol.state.value.message!!.kind)
    }

    @Test
    fun `storage, key, network and not-found errors each read as what the rep can do`() = runBlocking {
        val unreachable = EnrolViewModel(FieldbookSession(phones.open("unreachable")))
        unreachable.update { it.copy(serverUrl = "http://127.0.0.1:1", token = "x") }
        unreachable.enrol()
        assertEquals(MessageKind.NETWORK, unreachable.state.value.message!!.kind)

        val key = ByteArray(32) { it.toByte() }
        val book = phones.open("keyed", key)
        book.initRep("zhangwei")
        val session = FieldbookSession(book)
        val missing = CardDetailViewModel(session, "3f2b9c1e-8a4d-4e2f-9b1a-0c6d5e4f3a21", scope)
        val notFound = missing.state.awaitState { it.message != null }.message!!
        assertEquals(MessageKind.NOT_FOUND, notFound.kind)
        assertEquals("本机没有这张客户卡片（可能已移交给其他区域）", notFound.text)

        val locked = assertThrows<FieldbookException.Storage> { phones.open("keyed", key) }.toUiMessage()
        assertEquals("客户数据正被另一个程序使用，请稍后再试", locked.text)

        val sync = SyncViewModel(session, scope)
        sync.sync()
        assertEquals("本机尚未登记，请输入主管提供的登记码后再同步", sync.state.value.message!!.text)

        book.closeStore()
        val list = CardListViewModel(session, scope)
        val closed = list.state.awaitState { it.message != null }.message!!
        assertEquals(MessageKind.STORAGE, closed.kind)
        assertEquals("客户数据已关闭，请重新打开应用", closed.text)

        val wrongKey = assertThrows<FieldbookException.WrongKey> { phones.open("keyed", ByteArray(32)) }.toUiMessage()
        assertEquals(MessageKind.WRONG_KEY, wrongKey.kind)
        assertTrue(wrongKey.text.startsWith("无法用本机密钥打开客户数据"))
    }

    @Test
    fun `every kind has its own Chinese text that is more than the code`() {
        val errors = listOf(
            FieldbookException.InvalidInput("input.invalid_id", "r", null),
            FieldbookException.NotFound("card.not_found", "r"),
            FieldbookException.AccessDenied("access.denied", "r"),
            FieldbookException.Auth("auth.revoked", "r"),
            FieldbookException.Network("sync.busy", "r"),
            FieldbookException.Server("sync.protocol", "r"),
            FieldbookException.Storage("store.newer_schema", "r"),
            FieldbookException.WrongKey("store.wrong_key", "r"),
            FieldbookException.Cancelled("sync.cancelled", "r"),
            FieldbookException.Internal("ffi.callback_failed", "r"),
        )
        val messages = errors.map { it.toUiMessage() }
        assertEquals(MessageKind.entries.size - 1, messages.map { it.kind }.toSet().size, "one kind each")
        assertEquals(messages.size, messages.map { it.text }.toSet().size, "one text each")
        for ((error, message) in errors.zip(messages)) {
            val code = (error.message ?: "").substringAfter("code=").substringBefore(',')
            assertEquals(code, message.code)
            assertTrue(message.text.any { it.code in 0x4E00..0x9FFF }, "Chinese: ${message.text}")
            assertFalse(message.text == code || message.text.contains(" r"), "not the raw code or the English reason")
        }
        assertEquals(MessageKind.UNKNOWN, IllegalStateException("x").toUiMessage().kind)
    }
}
