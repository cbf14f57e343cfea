package fieldbook.demo

import fieldbook.FieldEdit
import fieldbook.FieldType
import fieldbook.ListQuery
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

/** Editors built from the real `cardSchema()`, writing through the real library. */
class EditorViewModelTest {
    private lateinit var phones: DemoPhones

    @BeforeEach
    fun start() {
        phones = DemoPhones()
    }

    @AfterEach
    fun stop() = phones.close()

    private fun FieldbookSession.value(id: String, path: String) =
        book.card(id).sections.flatMap { it.fields }.firstOrNull { it.path == path }

    @Test
    fun `the editor offers a control per field type and writes only what changed`() = runBlocking {
        val session = phones.synced("editor", "zhangwei")
        val id = session.book.list(ListQuery(limit = 1u)).single().id
        val editor = EditorViewModel(session, EditTarget.Card(id))
        editor.load()
        val fields = editor.state.value.fields.associateBy { it.spec.path }
        assertEquals(session.schema.cardFields.map { it.path }, editor.state.value.fields.map { it.spec.path }, "every card-level field, in schema order")
        assertEquals(Control.DECIMAL, fields.getValue("credit.credit_limit").input.control)
        assertEquals(Control.DATE, fields.getValue("basic.founded").input.control)
        assertEquals(Control.INTEGER, fields.getValue("credit.settlement_day").input.control)
        assertEquals(Control.MULTILINE, fields.getValue("notes").input.control)
        assertEquals(listOf("A", "B", "C", "D"), fields.getValue("classification.abc").input.options.map { it.code })
        assertEquals(listOf("past", "current", "prospect"), fields.getValue("classification.stage").input.options.map { it.code })
        assertEquals(session.value(id, "basic.phone")!!.value, fields.getValue("basic.phone").original, "current values are loaded")
        assertTrue(editor.state.value.sections.first().label == "卡片" && editor.state.value.sections.any { it.label == "信用资料" })
        assertFalse(editor.state.value.hasChanges)

        val changesBefore = session.book.history(id).size
        editor.onChange("credit.credit_limit", "80000")
        editor.onChange("classification.abc", "A")
        editor.onChange("basic.phone", "0571-8888 6666")
        assertEquals(id, editor.save())
        assertEquals("80000.00", session.value(id, "credit.credit_limit")!!.value)
        assertEquals("A", session.value(id, "classification.abc")!!.value)
        assertEquals("0571-8888 6666", session.value(id, "basic.phone")!!.value)
        val history = session.book.history(id)
        assertEquals(changesBefore + 1, history.size, "one change")
        assertEquals(setOf("credit.credit_limit", "classification.abc", "basic.phone"), history.last().fields.toSet(), "only the changed fields")

        assertFalse(editor.state.value.hasChanges, "saved values are the new baseline")
        editor.save()
        assertEquals(changesBefore + 1, session.book.history(id).size, "saving again writes nothing")
    }

    @Test
    fun `every option a picker offers is accepted by the library`() = runBlocking {
        val session = phones.synced("choices", "zhangwei")
        val id = session.book.list(ListQuery(limit = 1u)).single().id
        val choices = session.schema.fields.filter { it.kind == FieldType.CHOICE }
        assertTrue(choices.isNotEmpty())
        for (spec in choices) {
            val options = ChoiceOptions.forPath(spec.path)
            assertNotNull(options, "a picker for ${spec.path}")
            for (option in options!!) {
                val collection = spec.path.substringBefore('.')
                val field = when {
                    spec.path.startsWith("visits.") -> {
                        val visit = session.book.logVisit(id, listOf(FieldEdit(spec.key, option.code)), null)
                        session.book.card(id).collections.first { it.key == "visits" }.items.first { it.id == visit }.fields
                    }
                    '*' in spec.path -> {
                        val item = session.book.addItem(id, collection, listOf(FieldEdit("title", "试销"), FieldEdit(spec.key, option.code)))
                        session.book.card(id).collections.first { it.key == collection }.items.first { it.id == item }.fields
                    }
                    else -> {
                        // The label is accepted as well as the code: a picker may write either.
                        session.book.updateCard(id, listOf(FieldEdit(spec.path, option.label)))
                        session.book.card(id).sections.flatMap { it.fields }
                    }
                }.first { it.path.substringAfterLast('.') == spec.key && it.path.startsWith(collection) }
                assertEquals(option.code, field.value, spec.path)
                assertEquals(field.display, session.schema.display(spec.path, option.code), "shown as the library shows it: ${spec.path}")
            }
        }
    }

    @Test
    fun `a refused value is shown under its field in Chinese and nothing is written`() = runBlocking {
        val session = phones.synced("refused", "zhangwei")
        val id = session.book.list(ListQuery(limit = 1u)).single().id
        val phoneBefore = session.value(id, "basic.phone")!!.value
        val changesBefore = session.book.history(id).size
        val editor = EditorViewModel(session, EditTarget.Card(id))
        editor.load()
        editor.onChange("basic.phone", "13800000009")
        editor.onChange("credit.credit_limit", "很多")
        assertNull(editor.save())
        val state = editor.state.value
        val message = state.message!!
        assertEquals(MessageKind.INPUT, message.kind)
        assertEquals("「信用限度」应为金额（元，最多两位小数）", message.text)
        assertEquals("credit.credit_limit", message.field)
        assertEquals(message.text, state.fields.first { it.spec.path == "credit.credit_limit" }.error)
        assertNull(state.fields.first { it.spec.path == "basic.phone" }.error)
        assertFalse("很多" in message.text, "the message does not echo the input")
        assertEquals(phoneBefore, session.value(id, "basic.phone")!!.value, "all or nothing")
        assertEquals(changesBefore, session.book.history(id).size)

        editor.onChange("credit.credit_limit", "")
        assertNull(editor.state.value.fields.first { it.spec.path == "credit.credit_limit" }.error, "editing clears the hint")
        assertEquals(id, editor.save(), "an emptied field clears it")
        assertNull(session.value(id, "credit.credit_limit"))
        assertEquals("13800000009", session.value(id, "basic.phone")!!.value)
    }

    @Test
    fun `a new card and a new contact from the schema`() = runBlocking {
        val session = phones.synced("new", "zhangwei")
        val editor = EditorViewModel(session, EditTarget.NewCard)
        editor.load()
        assertTrue(editor.state.value.fields.all { it.original.isEmpty() })
        editor.onChange("basic.name", "杭州西湖茶庄")
        editor.onChange("territory", "east")
        editor.onChange("basic.founded", "2019-03-15")
        val id = editor.save()!!
        assertEquals("杭州西湖茶庄", session.book.card(id).name)
        assertEquals("2019-03-15", session.value(id, "basic.founded")!!.value)

        val contact = EditorViewModel(session, EditTarget.NewItem(id, "contacts"))
        contact.load()
        assertEquals(session.schema.itemFields("contacts").map { it.key }, contact.state.value.fields.map { it.target })
        assertEquals(Control.SWITCH, contact.state.value.fields.first { it.target == "primary" }.input.control)
        contact.onChange("contacts.*.mobile", "13912345678")
        assertNull(contact.save(), "a contact needs a name")
        assertEquals(MessageKind.INPUT, contact.state.value.message!!.kind)
        assertTrue(session.book.card(id).collections.first { it.key == "contacts" }.items.isEmpty())
        contact.onChange("contacts.*.name", "王建国")
        contact.onChange("contacts.*.primary", "true")
        val item = contact.save()!!
        val saved = session.book.card(id).collections.first { it.key == "contacts" }.items.single()
        assertEquals(item, saved.id)
        assertEquals("王建国", saved.fields.first { it.path.endsWith(".name") }.value)
        assertEquals("13912345678", saved.fields.first { it.path.endsWith(".mobile") }.value)
    }
}
