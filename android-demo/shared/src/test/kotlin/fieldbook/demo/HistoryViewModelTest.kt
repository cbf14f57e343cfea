package fieldbook.demo

import fieldbook.FieldEdit
import fieldbook.ListQuery
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

/** A card's dossier: who changed what, when, on which device; and one field's values. */
class HistoryViewModelTest {
    private lateinit var phones: DemoPhones

    @BeforeEach
    fun start() {
        phones = DemoPhones()
    }

    @AfterEach
    fun stop() = phones.close()

    @Test
    fun `the dossier lists every change newest first and a field's values in turn`() = runBlocking {
        // The card comes from another rep's territory with its history (a successor's view).
        val session = phones.synced("successor", "chenjie")
        val inherited = phones.server.cardIn("north")
        phones.server.assign("north", "chenjie")
        session.sync(null)
        val history = HistoryViewModel(session, inherited)
        history.load()
        val before = history.state.value.rows
        assertTrue(before.isNotEmpty())
        assertTrue(before.none { it.who == "chenjie" }, "earlier reps keep their authorship")

        session.write { updateCard(inherited, listOf(FieldEdit("basic.phone", "022-1111 2222"))) }
        session.write { updateCard(inherited, listOf(FieldEdit("basic.phone", "022-3333 4444"), FieldEdit("classification.abc", "A"))) }
        session.write { logVisit(inherited, listOf(FieldEdit("summary", "交接后第一次拜访")), null) }
        history.load()
        val rows = history.state.value.rows
        assertEquals(before.size + 3, rows.size)
        assertEquals(listOf("跟踪记录"), rows[0].fieldLabels, "a visit reads as one entry of the visit log")
        assertEquals(listOf("电话", "ABC分类"), rows[1].fieldLabels)
        assertEquals(listOf("电话"), rows[2].fieldLabels)
        assertTrue(rows.take(3).all { it.who == "chenjie" && it.time != null })
        assertEquals(before, rows.drop(3), "the older entries unchanged, newest first")

        history.openField("basic.phone")
        val field = history.state.value
        assertEquals("电话", field.fieldLabel)
        assertEquals(listOf("022-3333 4444", "022-1111 2222"), field.fieldRows.take(2).map { it.value })
        assertTrue(field.fieldRows.size >= 2)
        history.openField("classification.abc")
        assertEquals("A", history.state.value.fieldRows.first().value)
        history.closeField()
        assertEquals(null, history.state.value.fieldPath)
    }
}
