package fieldbook.demo

import fieldbook.FieldEdit
import fieldbook.ListQuery
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

/** Two phones of one rep edit the same field offline: the banner, then the rep's choice. */
class ConflictBannerTest {
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
    fun `the banner shows both attributed values and clears once the rep chooses`() = runBlocking {
        val phone = phones.synced("lina-phone", "lina")
        val tablet = phones.synced("lina-tablet", "lina")
        val id = phone.book.list(ListQuery(limit = 1u)).single().id
        val detail = CardDetailViewModel(phone, id, scope)
        val conflicted = CardListViewModel(phone, scope).apply { onFilterChange(ListFilter(conflictedOnly = true)) }
        assertNull(detail.state.awaitState { it.card != null }.banner, "no conflict yet")

        phone.write { updateCard(id, listOf(FieldEdit("basic.phone", "13800000001"))) }
        tablet.write { updateCard(id, listOf(FieldEdit("basic.phone", "13900000002"))) }
        phone.sync(null)
        tablet.sync(null)
        phone.sync(null)

        val shown = detail.state.awaitState { it.banner != null }
        val banner = shown.banner!!
        assertEquals(listOf("basic.phone"), banner.fields.map { it.path })
        val field = banner.fields.single()
        assertEquals("电话", field.label)
        assertEquals(setOf("13800000001", "13900000002"), field.choices.map { it.value }.toSet())
        assertTrue(field.choices.all { it.rep == "lina" }, "each value is attributed")
        assertEquals(2, field.choices.map { it.device }.toSet().size, "to the device that wrote it")
        assertEquals(1, field.choices.count { it.shown }, "the card shows one value meanwhile")
        assertTrue(banner.title.startsWith("1 个字段有冲突"))
        assertTrue(shown.sections.flatMap { it.fields }.single { it.path == "basic.phone" }.inConflict)
        assertEquals(listOf(id), conflicted.state.awaitState { it.rows.isNotEmpty() }.rows.map { it.id })

        assertTrue(detail.resolve("basic.phone", "13900000002"))
        val resolved = detail.state.awaitState { it.banner == null }
        val phoneField = resolved.sections.flatMap { it.fields }.single { it.path == "basic.phone" }
        assertEquals("13900000002", phoneField.value)
        assertFalse(phoneField.inConflict)
        conflicted.state.awaitState { it.rows.isEmpty() }

        // The choice travels: the tablet sees the decision, no conflict left.
        phone.sync(null)
        tablet.sync(null)
        assertTrue(tablet.book.conflicts(id).isEmpty())
        assertEquals("13900000002", tablet.book.card(id).sections.flatMap { it.fields }.single { it.path == "basic.phone" }.value)

        // Resolving again is a typed refusal, shown in Chinese.
        assertFalse(detail.resolve("basic.phone", "13800000001"))
        val again = detail.state.value.message!!
        assertEquals(MessageKind.INPUT, again.kind)
        assertEquals("这个字段已没有冲突，无需处理", again.text)
    }
}
