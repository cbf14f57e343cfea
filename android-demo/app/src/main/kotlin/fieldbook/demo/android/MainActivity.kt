package fieldbook.demo.android

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import fieldbook.demo.CardDetailViewModel
import fieldbook.demo.CardListViewModel
import fieldbook.demo.EditTarget
import fieldbook.demo.EditorViewModel
import fieldbook.demo.EnrolViewModel
import fieldbook.demo.FieldbookSession
import fieldbook.demo.HistoryViewModel
import fieldbook.demo.SyncViewModel
import fieldbook.demo.VisitViewModel
import fieldbook.demo.toUiMessage
import fieldbook.demo.android.ui.CardDetailScreen
import fieldbook.demo.android.ui.CardListScreen
import fieldbook.demo.android.ui.EditorScreen
import fieldbook.demo.android.ui.EnrolScreen
import fieldbook.demo.android.ui.HistoryScreen
import fieldbook.demo.android.ui.VisitScreen
import fieldbook.demo.android.ui.rememberScreenModel

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = application as FieldbookApp
        setContent {
            MaterialTheme {
                var opened by remember { mutableStateOf<Result<FieldbookSession>?>(null) }
                LaunchedEffect(Unit) { opened = app.session.await() }
                when (val result = opened) {
                    null -> Centered { CircularProgressIndicator() }
                    else -> result.fold(
                        onSuccess = { FieldbookNav(it) },
                        // A wrong key (the Keystore entry was wiped) or a damaged file:
                        // say so in the rep's words, never a stack trace.
                        onFailure = { Centered { Text(it.toUiMessage().text, Modifier.padding(24.dp)) } },
                    )
                }
            }
        }
    }
}

@Composable
private fun Centered(content: @Composable () -> Unit) =
    Box(Modifier.fillMaxSize(), contentAlignment = Alignment.Center) { content() }

/** The screens, by route; each view model lives as long as its back-stack entry. */
@Composable
private fun FieldbookNav(session: FieldbookSession) {
    val nav = rememberNavController()
    val context = LocalContext.current
    var enrolled by remember { mutableStateOf<Boolean?>(null) }
    LaunchedEffect(session) { enrolled = runCatching { session.read { status() }.enrolled }.getOrDefault(false) }
    val start = when (enrolled) {
        null -> null
        true -> "cards"
        false -> "enrol"
    }
    if (start == null) {
        Centered { CircularProgressIndicator() }
        return
    }
    NavHost(nav, startDestination = start) {
        composable("enrol") {
            val enrol = rememberScreenModel("enrol") { EnrolViewModel(session) }
            EnrolScreen(enrol, onEnrolled = { nav.navigate("cards") { popUpTo("enrol") { inclusive = true } } })
        }
        composable("cards") {
            val list = rememberScreenModel("cards") { CardListViewModel(session, it) }
            val sync = rememberScreenModel("sync") { SyncViewModel(session, it) }
            CardListScreen(list, sync, onOpen = { id -> nav.navigate("card/$id") }, onNew = { nav.navigate("new") })
        }
        composable("card/{id}") { entry ->
            val id = entry.arguments?.getString("id").orEmpty()
            val detail = rememberScreenModel("card/$id") { CardDetailViewModel(session, id, it) }
            CardDetailScreen(
                detail,
                onEdit = { nav.navigate("edit/$id") },
                onVisit = { nav.navigate("visit/$id") },
                onHistory = { nav.navigate("history/$id") },
                onAddItem = { collection -> nav.navigate("item/$id/$collection") },
            )
        }
        composable("new") {
            val editor = rememberScreenModel("new") { EditorViewModel(session, EditTarget.NewCard) }
            EditorScreen(editor, "新建客户", onSaved = { id -> nav.navigate("card/$id") { popUpTo("cards") } })
        }
        composable("edit/{id}") { entry ->
            val id = entry.arguments?.getString("id").orEmpty()
            val editor = rememberScreenModel("edit/$id") { EditorViewModel(session, EditTarget.Card(id)) }
            EditorScreen(editor, "编辑客户资料", onSaved = { nav.popBackStack() })
        }
        composable("item/{id}/{collection}") { entry ->
            val id = entry.arguments?.getString("id").orEmpty()
            val collection = entry.arguments?.getString("collection").orEmpty()
            val editor = rememberScreenModel("item/$id/$collection") { EditorViewModel(session, EditTarget.NewItem(id, collection)) }
            EditorScreen(editor, session.schema.itemFields(collection).firstOrNull()?.sectionLabel ?: "添加", onSaved = { nav.popBackStack() })
        }
        composable("visit/{id}") { entry ->
            val id = entry.arguments?.getString("id").orEmpty()
            val visit = rememberScreenModel("visit/$id") { VisitViewModel(session, id, AndroidLocationSource(context.applicationContext)) }
            VisitScreen(visit, onSaved = { nav.popBackStack() })
        }
        composable("history/{id}") { entry ->
            val id = entry.arguments?.getString("id").orEmpty()
            val history = rememberScreenModel("history/$id") { HistoryViewModel(session, id) }
            HistoryScreen(history)
        }
    }
}
